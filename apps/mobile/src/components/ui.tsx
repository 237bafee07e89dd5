// Small shared pieces: the screen frame, the loading/empty/error/offline states, buttons.
import { ActivityIndicator, Pressable, ScrollView, StyleSheet, Text, View } from "react-native";
import type { ReactNode } from "react";

import { useApp } from "@/state/app";

export const colors = {
  bg: "#ffffff",
  text: "#111827",
  muted: "#4b5563",
  accent: "#1d4ed8",
  danger: "#b91c1c",
  warn: "#92400e",
  warnBg: "#fef3c7",
  line: "#e5e7eb",
  conflictBg: "#fee2e2",
};

export function Screen({ children, scroll = true }: { children: ReactNode; scroll?: boolean }) {
  if (!scroll) return <View style={styles.screen}>{children}</View>;
  return (
    <ScrollView style={styles.screen} contentContainerStyle={styles.content}>
      {children}
    </ScrollView>
  );
}

export function Title({ children }: { children: ReactNode }) {
  return (
    <Text accessibilityRole="header" style={styles.title}>
      {children}
    </Text>
  );
}

export function Heading({ children }: { children: ReactNode }) {
  return (
    <Text accessibilityRole="header" style={styles.heading}>
      {children}
    </Text>
  );
}

export function Muted({ children, testID }: { children: ReactNode; testID?: string }) {
  return (
    <Text testID={testID} style={styles.muted}>
      {children}
    </Text>
  );
}

export function Button(props: {
  label: string;
  onPress: () => void;
  kind?: "primary" | "plain" | "danger";
  disabled?: boolean;
  testID?: string;
}) {
  const { label, onPress, kind = "primary", disabled = false, testID } = props;
  return (
    <Pressable
      accessibilityRole="button"
      accessibilityLabel={label}
      accessibilityState={{ disabled }}
      disabled={disabled}
      onPress={onPress}
      testID={testID}
      style={[styles.button, kind === "plain" && styles.plain, kind === "danger" && styles.danger, disabled && styles.disabled]}
    >
      <Text style={[styles.buttonText, kind === "plain" && styles.plainText]}>{label}</Text>
    </Pressable>
  );
}

export function Loading() {
  const { t } = useApp();
  return (
    <View style={styles.center} testID="state-loading">
      <ActivityIndicator />
      <Muted>{t("loading")}</Muted>
    </View>
  );
}

export function Empty({ text }: { text: string }) {
  return (
    <View style={styles.center} testID="state-empty">
      <Muted>{text}</Muted>
    </View>
  );
}

export function ErrorState({ message, onRetry }: { message: string; onRetry: () => void }) {
  const { t } = useApp();
  return (
    <View style={styles.center} testID="state-error">
      <Text style={styles.errorTitle}>{t("errorTitle")}</Text>
      <Muted>{message}</Muted>
      <Button label={t("retry")} onPress={onRetry} />
    </View>
  );
}

export function Offline({ onRetry, nothing }: { onRetry: () => void; nothing: boolean }) {
  const { t } = useApp();
  return (
    <View style={styles.banner} testID="state-offline">
      <Text style={styles.bannerText}>{nothing ? t("offlineNothing") : t("offline")}</Text>
      <Button label={t("retry")} kind="plain" onPress={onRetry} />
    </View>
  );
}

export const styles = StyleSheet.create({
  screen: { flex: 1, backgroundColor: colors.bg },
  content: { padding: 16, gap: 12, maxWidth: 760, width: "100%", alignSelf: "center" },
  title: { fontSize: 26, fontWeight: "700", color: colors.text },
  heading: { fontSize: 19, fontWeight: "600", color: colors.text, marginTop: 8 },
  muted: { fontSize: 14, color: colors.muted },
  text: { fontSize: 16, color: colors.text, lineHeight: 22 },
  center: { padding: 24, alignItems: "center", gap: 10 },
  errorTitle: { fontSize: 17, fontWeight: "600", color: colors.danger },
  button: { backgroundColor: colors.accent, paddingVertical: 10, paddingHorizontal: 16, borderRadius: 8, alignItems: "center" },
  plain: { backgroundColor: "transparent", borderWidth: 1, borderColor: colors.line },
  danger: { backgroundColor: colors.danger },
  disabled: { opacity: 0.5 },
  buttonText: { color: "#ffffff", fontSize: 16, fontWeight: "600" },
  plainText: { color: colors.accent },
  banner: { backgroundColor: colors.warnBg, padding: 12, borderRadius: 8, gap: 8 },
  bannerText: { color: colors.warn, fontSize: 14 },
  card: { borderWidth: 1, borderColor: colors.line, borderRadius: 10, padding: 12, gap: 6 },
  input: { borderWidth: 1, borderColor: colors.line, borderRadius: 8, padding: 10, fontSize: 16, color: colors.text },
  row: { flexDirection: "row", gap: 8, alignItems: "center", flexWrap: "wrap" },
  quote: { borderLeftWidth: 3, borderLeftColor: colors.line, paddingLeft: 8, fontStyle: "italic", color: colors.text },
  conflict: { backgroundColor: colors.conflictBg, borderRadius: 6, padding: 6 },
});
