// Root: app state, the player, and the navigation stack.
import { Stack } from "expo-router";
import { StatusBar } from "expo-status-bar";
import { useEffect } from "react";

import { PlayerProvider } from "@/player/player";
import { AppProvider, useApp } from "@/state/app";
import { installCrashReporter, reportStart, setTelemetryServer } from "@/lib/telemetry";

const startedAt = Date.now();
installCrashReporter();

function Telemetry() {
  const { ready, server } = useApp();
  useEffect(() => {
    setTelemetryServer(server);
  }, [server]);
  useEffect(() => {
    if (ready) reportStart(Date.now() - startedAt);
  }, [ready]);
  return null;
}

export default function RootLayout() {
  return (
    <AppProvider>
      <PlayerProvider>
        <Telemetry />
        <StatusBar style="dark" />
        <Stack screenOptions={{ headerShown: false }} />
      </PlayerProvider>
    </AppProvider>
  );
}
