// The player: play/pause, ±15 s, speed 0.8–2.0, chapters, transcript, queue, downloads.
import { useCallback, useEffect, useState } from "react";
import { Platform, Text, View } from "react-native";

import { Button, Empty, Heading, Muted, Screen, Title, colors, styles } from "@/components/ui";
import { download, downloadedUri, downloadsOf, removeDownload } from "@/player/downloads";
import type { Download } from "@/player/downloads";
import { SKIP_S, SPEEDS, formatTime, usePlayer } from "@/player/player";
import { useApp } from "@/state/app";

/** What was downloaded from this server; each plays from the device, with or without a network. */
function DownloadedList({ version }: { version: number }) {
  const { t, server } = useApp();
  const p = usePlayer();
  const [items, setItems] = useState<Download[]>([]);
  useEffect(() => {
    if (!server) return;
    let cancelled = false;
    downloadsOf(server).then((list) => {
      if (!cancelled) setItems(list);
    });
    return () => {
      cancelled = true;
    };
  }, [server, version]);
  if (items.length === 0) return null;
  return (
    <>
      <Heading>{t("downloaded")}</Heading>
      {items.map((d) => (
        <Text key={d.audio.id} style={styles.text} onPress={() => void p.playStory(d.storyId, d.title)} accessibilityRole="button" testID={`downloaded-${d.storyId}`}>
          {d.title}
        </Text>
      ))}
    </>
  );
}

function ListenProblem() {
  const { t } = useApp();
  const p = usePlayer();
  if (!p.error) return null;
  return (
    <Text style={{ color: colors.danger }} testID={p.offline ? "audio-offline" : "audio-error"}>
      {p.offline ? t("audioOffline") : `${t("audioFailed")} ${p.error}`}
    </Text>
  );
}

export default function PlayerScreen() {
  const { t, client, server } = useApp();
  const p = usePlayer();
  const [offlineCopy, setOfflineCopy] = useState(false);
  const [downloadsVersion, setDownloadsVersion] = useState(0);
  const [downloadError, setDownloadError] = useState<string | null>(null);
  const audioId = p.current?.audio.id ?? null;

  useEffect(() => {
    if (!audioId) return;
    downloadedUri(audioId).then((uri) => setOfflineCopy(uri !== null));
  }, [audioId]);

  const item = p.current;
  const toggleDownload = useCallback(async () => {
    if (!client || !server || !item?.audio.url) return;
    setDownloadError(null);
    try {
      if (offlineCopy) await removeDownload(item.audio.id);
      else await download(server, item.storyId, item.title, item.audio, client.url(item.audio.url));
      setOfflineCopy(!offlineCopy);
      setDownloadsVersion((v) => v + 1);
    } catch (err) {
      setDownloadError(err instanceof Error ? err.message : String(err));
    }
  }, [client, server, item, offlineCopy]);

  if (!item) {
    return (
      <Screen>
        <Title>{t("tabPlayer")}</Title>
        {p.preparing ? <Muted testID="preparing">{t("preparingAudio")}</Muted> : <Empty text={t("playerEmpty")} />}
        <ListenProblem />
        <DownloadedList version={downloadsVersion} />
      </Screen>
    );
  }

  return (
    <Screen>
      <Title>{item.title}</Title>
      <Muted testID="player-time">
        {formatTime(p.position)} / {formatTime(p.duration)}
      </Muted>
      {p.preparing ? <Muted testID="preparing">{t("preparingAudio")}</Muted> : null}
      <ListenProblem />
      <View style={styles.row}>
        <Button kind="plain" label={`−${SKIP_S}s`} onPress={() => p.skip(-SKIP_S)} testID="back15" />
        <Button label={p.playing ? t("pause") : t("play")} onPress={p.toggle} testID="play-toggle" />
        <Button kind="plain" label={`+${SKIP_S}s`} onPress={() => p.skip(SKIP_S)} testID="forward15" />
        {p.queue.length > 0 ? <Button kind="plain" label={t("next")} onPress={p.next} testID="next" /> : null}
      </View>
      <Text style={styles.muted}>{t("speed")}</Text>
      <View style={styles.row}>
        {SPEEDS.map((s) => (
          <Button key={s} kind={s === p.speed ? "primary" : "plain"} label={`${s}×`} onPress={() => p.setSpeed(s)} testID={`speed-${s}`} />
        ))}
      </View>
      {Platform.OS !== "web" ? (
        <Button kind="plain" label={offlineCopy ? t("removeDownload") : t("download")} onPress={() => void toggleDownload()} testID="download" />
      ) : null}
      {downloadError ? <Text style={{ color: colors.danger }}>{downloadError}</Text> : null}
      <Heading>{t("chapters")}</Heading>
      {p.chapters.length === 0 ? <Muted>—</Muted> : null}
      {p.chapters.map((c) => (
        <Text key={`${c.startTime}`} style={styles.text} onPress={() => p.seek(c.startTime)} accessibilityRole="button" testID="chapter">
          {formatTime(c.startTime)} {c.title}
        </Text>
      ))}
      <Heading>{t("queue")}</Heading>
      {p.queue.length === 0 ? <Muted>{t("queueEmpty")}</Muted> : null}
      {p.queue.map((q) => (
        <Text key={q.audio.id} style={styles.text} testID="queued">
          {q.title}
        </Text>
      ))}
      <Heading>{t("transcript")}</Heading>
      <Text style={styles.text} testID="transcript">
        {p.transcript || "—"}
      </Text>
      <DownloadedList version={downloadsVersion} />
    </Screen>
  );
}
