// One story: its coverage by outlet and its fact-check, with evidence quotes and the
// conflicts between outlets highlighted; from here the listener plays or asks.
import { Link, useLocalSearchParams } from "expo-router";
import { useCallback } from "react";
import { Text, View } from "react-native";

import type { Claim, StoryDetail, StoryFactcheck } from "@/api/types";
import { Button, Empty, ErrorState, Heading, Loading, Muted, Offline, Screen, Title, styles } from "@/components/ui";
import { labelOf } from "@/i18n/strings";
import { useLoad } from "@/lib/useLoad";
import { usePlayer } from "@/player/player";
import { useApp, useClient } from "@/state/app";

function ClaimView({ claim }: { claim: Claim }) {
  const { t } = useApp();
  return (
    <View style={styles.card} testID="claim">
      <Text style={styles.text}>{claim.text}</Text>
      <Muted>
        {labelOf(t, "verdict", claim.verdict)} · {Math.round(claim.confidence * 100)}%{claim.outlet ? ` · ${claim.outlet}` : ""}
      </Muted>
      {claim.explanation ? <Muted>{claim.explanation}</Muted> : null}
      {claim.evidence.length > 0 ? <Text style={styles.muted}>{t("evidence")}</Text> : null}
      {claim.evidence.map((ev, i) => (
        <View key={`${ev.url}-${i}`} style={ev.conflicts.length > 0 ? styles.conflict : undefined} testID={ev.conflicts.length > 0 ? "evidence-conflict" : "evidence"}>
          <Text style={styles.quote}>“{ev.quote}”</Text>
          <Muted>
            {ev.outlet} · {labelOf(t, "stance", ev.stance)}
          </Muted>
          {ev.conflicts.length > 0 ? (
            <Text style={styles.text}>
              {t("conflicts")}: {ev.conflicts.join(", ")}
            </Text>
          ) : null}
        </View>
      ))}
    </View>
  );
}

export default function StoryScreen() {
  const { t } = useApp();
  const api = useClient();
  const player = usePlayer();
  const { id } = useLocalSearchParams<{ id: string }>();
  const storyId = Number(id);
  const loadStory = useCallback(() => api.story(storyId), [api, storyId]);
  const loadCheck = useCallback(() => api.factcheck(storyId), [api, storyId]);
  const story = useLoad<StoryDetail>(loadStory, `newstalk.story.${storyId}`);
  const check = useLoad<StoryFactcheck>(loadCheck, `newstalk.factcheck.${storyId}`);

  if (story.status === "loading") return <Loading />;
  if (story.status === "error") return <ErrorState message={story.message} onRetry={story.reload} />;
  if (story.status === "offline") return <Offline onRetry={story.reload} nothing />;
  const s = story.data;
  const queued = player.queue.some((q) => q.storyId === s.id);
  return (
    <Screen>
      {story.stale ? <Offline onRetry={story.reload} nothing={false} /> : null}
      <Title>{s.title}</Title>
      {s.summary.map((line, i) => (
        <Text key={i} style={styles.text}>
          {line}
        </Text>
      ))}
      <View style={styles.row}>
        <Button label={t("listen")} onPress={() => void player.playStory(s.id, s.title)} disabled={player.preparing} testID="listen" />
        {queued ? <Muted testID="in-queue">{t("inQueue")}</Muted> : null}
        {!queued && player.current?.storyId !== s.id ? (
          <Button kind="plain" label={t("addToQueue")} onPress={() => void player.enqueueStory(s.id, s.title)} disabled={player.preparing} testID="add-to-queue" />
        ) : null}
        <Link href={{ pathname: "/ask", params: { story: String(s.id) } }} testID="ask-link">
          <Text style={[styles.text, { color: "#1d4ed8" }]}>{t("askAbout")}</Text>
        </Link>
      </View>
      {player.preparing ? <Muted testID="preparing">{t("preparingAudio")}</Muted> : null}
      {player.error && player.offline ? <Muted testID="audio-offline">{t("audioOffline")}</Muted> : null}
      {player.error && !player.offline ? <Muted testID="audio-error">{`${t("audioFailed")} ${player.error}`}</Muted> : null}
      <Heading>{t("coverage")}</Heading>
      {s.coverage.map((c) => (
        <View key={c.source_id} style={styles.card} testID="coverage">
          <Text style={styles.text}>{c.outlet}</Text>
          <Muted>
            {c.headline} · {c.articles} {t(c.articles === 1 ? "article" : "articles")} · {c.language}
          </Muted>
        </View>
      ))}
      <Heading>{t("factcheck")}</Heading>
      {check.status === "loading" ? <Loading /> : null}
      {check.status === "error" ? <ErrorState message={check.message} onRetry={check.reload} /> : null}
      {check.status === "offline" ? <Offline onRetry={check.reload} nothing /> : null}
      {check.status === "ready" && check.data.claims.length === 0 ? <Empty text={t("factcheckEmpty")} /> : null}
      {check.status === "ready" ? check.data.claims.map((c, i) => <ClaimView key={c.id ?? i} claim={c} />) : null}
    </Screen>
  );
}
