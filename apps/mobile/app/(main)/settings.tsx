// Settings: app language, feed preferences (topics, keywords, languages, mutes), voice and
// speed, notifications, server, sign-out and account deletion.
import { useRouter } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { Platform, Text, TextInput, View } from "react-native";

import { ApiError } from "@/api/client";
import type { Preferences } from "@/api/types";
import { Button, ErrorState, Heading, Loading, Muted, Offline, Screen, Title, colors, styles } from "@/components/ui";
import { disablePush, enablePush, pushEnabled } from "@/lib/push";
import { appVersion } from "@/lib/telemetry";
import { useLoad } from "@/lib/useLoad";
import { SPEEDS, clampSpeed } from "@/player/player";
import { useApp, useClient } from "@/state/app";

const VOICES = ["anchor", "host", "narrator", "reporter", "storyteller"];

const split = (value: string) =>
  value
    .split(",")
    .map((v) => v.trim())
    .filter(Boolean);
const splitIds = (value: string) => split(value).map(Number).filter((n) => Number.isInteger(n) && n > 0);

function Field(props: { label: string; value: string; onChange: (v: string) => void; testID: string }) {
  return (
    <View style={{ gap: 4 }}>
      <Muted>{props.label}</Muted>
      <TextInput accessibilityLabel={props.label} testID={props.testID} style={styles.input} value={props.value} onChangeText={props.onChange} autoCapitalize="none" />
    </View>
  );
}

function PreferencesForm({ initial, onMessage }: { initial: Preferences; onMessage: (m: string | null) => void }) {
  const { t } = useApp();
  const api = useClient();
  const [draft, setDraft] = useState<Record<string, string>>(() => ({
    categories: initial.categories.join(", "),
    keywords: initial.keywords.join(", "),
    languages: initial.languages.join(", "),
    muted_topics: initial.muted_topics.join(", "),
    muted_outlets: initial.muted_outlets.join(", "),
  }));
  const [voice, setVoice] = useState<string | null>(initial.voice);
  const [speed, setSpeed] = useState(clampSpeed(initial.playback_speed || 1));

  const save = async () => {
    onMessage(null);
    try {
      await api.savePreferences({
        ...initial,
        categories: split(draft.categories ?? ""),
        keywords: split(draft.keywords ?? ""),
        languages: split(draft.languages ?? ""),
        muted_topics: split(draft.muted_topics ?? ""),
        muted_outlets: splitIds(draft.muted_outlets ?? ""),
        voice,
        playback_speed: speed,
      });
      onMessage(t("saved"));
    } catch (err) {
      onMessage(err instanceof ApiError ? err.detail : String(err));
    }
  };

  const field = (key: string, label: Parameters<typeof t>[0]) => (
    <Field key={key} label={t(label)} value={draft[key] ?? ""} onChange={(v) => setDraft((d) => ({ ...d, [key]: v }))} testID={`pref-${key}`} />
  );

  return (
    <View style={{ gap: 10 }} testID="preferences">
      {field("categories", "categories")}
      {field("keywords", "keywords")}
      {field("languages", "newsLanguages")}
      {field("muted_topics", "mutedTopics")}
      {field("muted_outlets", "mutedOutlets")}
      <Muted>{t("voice")}</Muted>
      <View style={styles.row}>
        {VOICES.map((v) => (
          <Button key={v} kind={voice === v ? "primary" : "plain"} label={v} onPress={() => setVoice(v)} />
        ))}
      </View>
      <Muted>{t("playbackSpeed")}</Muted>
      <View style={styles.row}>
        {SPEEDS.map((s) => (
          <Button key={s} kind={speed === s ? "primary" : "plain"} label={`${s}×`} onPress={() => setSpeed(s)} />
        ))}
      </View>
      <Button label={t("save")} onPress={() => void save()} testID="pref-save" />
    </View>
  );
}

export default function SettingsScreen() {
  const { t, locale, localeChoice, setLocale, server, setServer, markSignedIn } = useApp();
  const api = useClient();
  const router = useRouter();
  const loadPrefs = useCallback(() => api.preferences(), [api]);
  const prefs = useLoad<Preferences>(loadPrefs);
  const [message, setMessage] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [push, setPush] = useState(false);

  useEffect(() => {
    pushEnabled().then(setPush);
  }, []);

  const togglePush = async () => {
    if (push) {
      await disablePush(api);
      setPush(false);
    } else {
      setPush((await enablePush(api, locale).catch(() => null)) !== null);
    }
  };

  const signOut = async () => {
    await disablePush(api);
    await api.logout();
    markSignedIn(false);
    router.replace("/signin");
  };

  const deleteAccount = async () => {
    try {
      await disablePush(api);
      await api.deleteAccount();
      markSignedIn(false);
      router.replace("/signin");
    } catch (err) {
      setMessage(err instanceof ApiError ? err.detail : String(err));
    }
  };

  return (
    <Screen>
      <Title>{t("settingsTitle")}</Title>
      <Heading>{t("language")}</Heading>
      <View style={styles.row}>
        {(["system", "en", "ko"] as const).map((choice) => (
          <Button
            key={choice}
            kind={localeChoice === choice ? "primary" : "plain"}
            label={choice === "system" ? t("languageSystem") : choice === "en" ? "English" : "한국어"}
            onPress={() => void setLocale(choice)}
            testID={`locale-${choice}`}
          />
        ))}
      </View>
      <Heading>{t("preferences")}</Heading>
      {prefs.status === "loading" ? <Loading /> : null}
      {prefs.status === "error" ? <ErrorState message={prefs.message} onRetry={prefs.reload} /> : null}
      {prefs.status === "offline" ? <Offline onRetry={prefs.reload} nothing /> : null}
      {prefs.status === "ready" ? <PreferencesForm initial={prefs.data} onMessage={setMessage} /> : null}
      {message ? <Muted testID="settings-message">{message}</Muted> : null}
      {Platform.OS !== "web" ? (
        <>
          <Heading>{t("notifications")}</Heading>
          <Button kind="plain" label={push ? t("notificationsOn") : t("notificationsOff")} onPress={() => void togglePush()} />
        </>
      ) : null}
      <Heading>{t("server")}</Heading>
      <Muted>{server}</Muted>
      <Button
        kind="plain"
        label={t("changeServer")}
        onPress={async () => {
          await setServer(null);
          router.replace("/server");
        }}
      />
      <Button kind="plain" label={t("signOut")} onPress={() => void signOut()} testID="sign-out" />
      {confirming ? (
        <View style={styles.card}>
          <Text style={{ color: colors.danger }}>{t("deleteConfirm")}</Text>
          <Button kind="danger" label={t("confirmDelete")} onPress={() => void deleteAccount()} testID="confirm-delete" />
          <Button kind="plain" label={t("cancel")} onPress={() => setConfirming(false)} />
        </View>
      ) : (
        <Button kind="danger" label={t("deleteAccount")} onPress={() => setConfirming(true)} testID="delete-account" />
      )}
      <Muted>
        {t("version")} {appVersion}
      </Muted>
    </Screen>
  );
}
