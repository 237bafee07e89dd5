// Sign in or create an account; tokens go to SecureStore through the API client.
import { Redirect, useRouter } from "expo-router";
import { useState } from "react";
import { Text, TextInput } from "react-native";

import { ApiError, OfflineError } from "@/api/client";
import { Button, Muted, Screen, Title, colors, styles } from "@/components/ui";
import { useApp } from "@/state/app";

export default function SignInScreen() {
  const { t, client, server, markSignedIn } = useApp();
  const router = useRouter();
  const [mode, setMode] = useState<"signin" | "register">("signin");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  if (!client) return <Redirect href="/server" />;

  const submit = async () => {
    setError(null);
    if (mode === "register" && password.length < 10) {
      setError(t("passwordTooShort"));
      return;
    }
    setBusy(true);
    try {
      if (mode === "register") await client.register(email.trim(), password, name.trim());
      else await client.login(email.trim(), password);
      markSignedIn(true);
      router.replace("/today");
    } catch (err) {
      if (err instanceof OfflineError) setError(t("serverUnreachable"));
      else if (err instanceof ApiError) setError(err.detail);
      else setError(String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Screen>
      <Title>{mode === "signin" ? t("signInTitle") : t("registerTitle")}</Title>
      <Muted>{server}</Muted>
      <TextInput
        accessibilityLabel={t("email")}
        placeholder={t("email")}
        testID="email"
        style={styles.input}
        value={email}
        onChangeText={setEmail}
        autoCapitalize="none"
        keyboardType="email-address"
        autoComplete="email"
      />
      <TextInput
        accessibilityLabel={t("password")}
        placeholder={t("password")}
        testID="password"
        style={styles.input}
        value={password}
        onChangeText={setPassword}
        secureTextEntry
        autoComplete={mode === "signin" ? "current-password" : "new-password"}
      />
      {mode === "register" ? (
        <TextInput
          accessibilityLabel={t("displayName")}
          placeholder={t("displayName")}
          style={styles.input}
          value={name}
          onChangeText={setName}
        />
      ) : null}
      {error ? (
        <Text style={{ color: colors.danger }} testID="signin-error">
          {error}
        </Text>
      ) : null}
      <Button
        label={busy ? t("loading") : mode === "signin" ? t("signIn") : t("register")}
        onPress={submit}
        disabled={busy || !email || !password}
        testID="signin-submit"
      />
      <Button
        kind="plain"
        label={mode === "signin" ? t("needAccount") : t("haveAccount")}
        onPress={() => setMode(mode === "signin" ? "register" : "signin")}
        testID="signin-mode"
      />
      <Button kind="plain" label={t("changeServer")} onPress={() => router.replace("/server")} />
    </Screen>
  );
}
