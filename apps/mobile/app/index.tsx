// First stop: choose a server, then sign in, then today's feed.
import { Redirect } from "expo-router";

import { Loading } from "@/components/ui";
import { useApp } from "@/state/app";

export default function Index() {
  const { ready, server, signedIn } = useApp();
  if (!ready) return <Loading />;
  if (!server) return <Redirect href="/server" />;
  if (!signedIn) return <Redirect href="/signin" />;
  return <Redirect href="/today" />;
}
