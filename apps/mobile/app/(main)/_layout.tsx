// Signed-in part of the app: the screens and a bottom bar of links between them.
import { Link, Redirect, Slot, usePathname } from "expo-router";
import { StyleSheet, Text, View } from "react-native";
import { SafeAreaView } from "react-native-safe-area-context";

import { Loading, colors } from "@/components/ui";
import { useApp } from "@/state/app";
import type { StringKey } from "@/i18n/strings";

const TABS: { href: "/today" | "/search" | "/ask" | "/player" | "/settings"; label: StringKey }[] = [
  { href: "/today", label: "tabToday" },
  { href: "/search", label: "tabSearch" },
  { href: "/ask", label: "tabAsk" },
  { href: "/player", label: "tabPlayer" },
  { href: "/settings", label: "tabSettings" },
];

export default function MainLayout() {
  const { ready, server, signedIn, t } = useApp();
  const path = usePathname();
  if (!ready) return <Loading />;
  if (!server) return <Redirect href="/server" />;
  if (!signedIn) return <Redirect href="/signin" />;
  return (
    <SafeAreaView style={bar.root} edges={["top", "bottom"]}>
      <View style={bar.body}>
        <Slot />
      </View>
      <View style={bar.tabs} accessibilityRole="tablist">
        {TABS.map((tab) => (
          <Link key={tab.href} href={tab.href} accessibilityRole="tab" testID={`tab-${tab.href.slice(1)}`} style={bar.tab}>
            <Text style={[bar.label, path.startsWith(tab.href) && bar.active]}>{t(tab.label)}</Text>
          </Link>
        ))}
      </View>
    </SafeAreaView>
  );
}

const bar = StyleSheet.create({
  root: { flex: 1, backgroundColor: colors.bg },
  body: { flex: 1 },
  tabs: { flexDirection: "row", borderTopWidth: 1, borderTopColor: colors.line },
  tab: { flex: 1, paddingVertical: 12, alignItems: "center", textAlign: "center" },
  label: { fontSize: 14, color: colors.muted, textAlign: "center" },
  active: { color: colors.accent, fontWeight: "700" },
});
