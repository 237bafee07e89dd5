// Which NewsTalk server this app talks to; asked once, changeable in settings.
import { useRouter } from "expo-router";
import { useState } from "react";
import { Text, TextInput } from "react-native";

import { normalizeServerUrl } from "@/api/client";
import { Button, Muted, Screen, Title, colors, styles } from "@/components/ui";
import { DEMO_SERVER, useApp } from "@/state/app";

export default function ServerScreen() {
  const { t, server, setServer, probeServer } = useApp();
  const router = useRouter();
  const [url, setUrl] = useState(server ?? DEMO_SERVER ?? "https://");
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);

  const submit = async () => {
    setError(null);
    let base: string;
    try {
      base = normalizeServerUrl(url);
    } catch {
      setError(t("serverBadUrl"));
      return;
    }
    setChecking(true);
    try {
      if (!(await probeServer(base))) {
        setError(t("serverUnreachable"));
        return;
      }
      await setServer(base);
      router.replace("/signin");
    } finally {
      setChecking(false);
    }
  };

  return (
    <Screen>
      <Title>{t("serverTitle")}</Title>
      <Muted>{t("serverHint")}</Muted>
      <TextInput
        accessibilityLabel={t("serverUrl")}
        testID="server-url"
        style={styles.input}
        value={url}
        onChangeText={setUrl}
        autoCapitalize="none"
        autoCorrect={false}
        keyboardType="url"
      />
      {error ? <Text style={{ color: colors.danger }} testID="server-error">{error}</Text> : null}
      <Button label={checking ? t("checking") : t("serverContinue")} onPress={() => void submit()} disabled={checking} testID="server-continue" />
    </Screen>
  );
}
