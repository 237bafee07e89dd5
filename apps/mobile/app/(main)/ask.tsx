// Ask: questions about a story, answered from its coverage with cited quotes, as a thread.
import { useLocalSearchParams } from "expo-router";
import { useState } from "react";
import { Text, TextInput, View } from "react-native";

import { ApiError, OfflineError } from "@/api/client";
import type { Turn } from "@/api/types";
import { Button, Empty, ErrorState, Muted, Offline, Screen, Title, styles } from "@/components/ui";
import { useApp, useClient } from "@/state/app";

function TurnView({ turn }: { turn: Turn }) {
  const { t } = useApp();
  return (
    <View style={styles.card} testID="turn">
      <Text style={[styles.text, { fontWeight: "600" }]}>{turn.question}</Text>
      <Text style={styles.text} testID="answer">
        {turn.found ? turn.answer : t("noAnswer")}
      </Text>
      {turn.citations.length > 0 ? <Muted>{t("sources")}</Muted> : null}
      {turn.citations.map((c, i) => (
        <View key={i} testID="citation">
          <Text style={styles.quote}>“{c.quote}”</Text>
          <Muted>{c.outlet}</Muted>
        </View>
      ))}
    </View>
  );
}

export default function AskScreen() {
  const { t } = useApp();
  const api = useClient();
  const { story } = useLocalSearchParams<{ story?: string }>();
  const storyId = story ? Number(story) : null;
  const [question, setQuestion] = useState("");
  const [threadId, setThreadId] = useState<number | null>(null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [state, setState] = useState<"idle" | "loading" | "error" | "offline">("idle");
  const [error, setError] = useState("");

  if (storyId === null || Number.isNaN(storyId)) {
    return (
      <Screen>
        <Title>{t("askTitle")}</Title>
        <Empty text={t("askPickStory")} />
      </Screen>
    );
  }

  const send = async () => {
    const q = question.trim();
    if (!q) return;
    setState("loading");
    try {
      const result = await api.ask(storyId, q, threadId);
      setThreadId(result.thread_id);
      setTurns((prev) => [...prev, result.turn]);
      setQuestion("");
      setState("idle");
    } catch (err) {
      if (err instanceof OfflineError) setState("offline");
      else {
        setError(err instanceof ApiError ? err.detail : String(err));
        setState("error");
      }
    }
  };

  return (
    <Screen>
      <Title>{t("askTitle")}</Title>
      {turns.length === 0 && state === "idle" ? <Empty text={t("askEmpty")} /> : null}
      {turns.map((turn) => (
        <TurnView key={turn.position} turn={turn} />
      ))}
      {state === "offline" ? <Offline onRetry={() => void send()} nothing={false} /> : null}
      {state === "error" ? <ErrorState message={error} onRetry={() => void send()} /> : null}
      <TextInput
        accessibilityLabel={t("askPlaceholder")}
        placeholder={t("askPlaceholder")}
        testID="ask-input"
        style={styles.input}
        value={question}
        onChangeText={setQuestion}
        onSubmitEditing={() => void send()}
      />
      <Button label={state === "loading" ? t("loading") : t("askSend")} onPress={() => void send()} disabled={state === "loading" || !question.trim()} testID="ask-send" />
    </Screen>
  );
}
