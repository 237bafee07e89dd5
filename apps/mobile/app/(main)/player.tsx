// The player: play/pause, ±15 s, speed 0.8–2.0, chapters, transcript, queue, download.
import { useEffect, useState } from "react";
import { Platform, Text, View } from "react-native";

import { Button, Empty, Heading, Muted, Screen, Title, styles } from "@/components/ui";
import { download, downloadedUri, removeDownload } from "@/player/downloads";
import { SKIP_S, SPEEDS, formatTime, usePlayer } from "@/player/player";
import { useApp } from "@/state/app";

export default function PlayerScreen() {
  const { t, client } = useApp();
  const p = usePlayer();
  const [offlineCopy, setOfflineCopy] = useState(false);
  const audioId = p.current?.audio.id ?? null;

  useEffect(() => {
    if (!audioId) return;
    downloadedUri(audioId).then((uri) => setOfflineCopy(uri !== null));
  }, [audioId]);

  if (!p.current) {
    return (
      <Screen>
        <Title>{t("tabPlayer")}</Title>
        {p.preparing ? <Muted testID="preparing">{t("preparingAudio")}</Muted> : <Empty text={t("playerEmpty")} />}
      </Screen>
    );
  }
  const item = p.current;
  const toggleDownload = async () => {
    if (!client || !item.audio.url) return;
    if (offlineCopy) await removeDownload(item.audio.id);
    else await download(item.audio.id, client.url(item.audio.url), item.title);
    setOfflineCopy(!offlineCopy);
  };

  return (
    <Screen>
      <Title>{item.title}</Title>
      <Muted testID="player-time">
        {formatTime(p.position)} / {formatTime(p.duration)}
      </Muted>
      <View style={styles.row}>
        <Button kind="plain" label={`−${SKIP_S}s`} onPress={() => p.skip(-SKIP_S)} testID="back15" />
        <Button label={p.playing ? t("pause") : t("play")} onPress={p.toggle} testID="play-toggle" />
        <Button kind="plain" label={`+${SKIP_S}s`} onPress={() => p.skip(SKIP_S)} testID="forward15" />
        {p.queue.length > 0 ? <Button kind="plain" label={t("next")} onPress={p.next} /> : null}
      </View>
      <Text style={styles.muted}>{t("speed")}</Text>
      <View style={styles.row}>
        {SPEEDS.map((s) => (
          <Button key={s} kind={s === p.speed ? "primary" : "plain"} label={`${s}×`} onPress={() => p.setSpeed(s)} testID={`speed-${s}`} />
        ))}
      </View>
      {Platform.OS !== "web" ? (
        <Button kind="plain" label={offlineCopy ? t("removeDownload") : t("download")} onPress={() => void toggleDownload()} />
      ) : null}
      <Heading>{t("chapters")}</Heading>
      {p.chapters.length === 0 ? <Muted>—</Muted> : null}
      {p.chapters.map((c) => (
        <Text key={`${c.startTime}`} style={styles.text} onPress={() => p.seek(c.startTime)} accessibilityRole="button">
          {formatTime(c.startTime)} {c.title}
        </Text>
      ))}
      <Heading>{t("queue")}</Heading>
      {p.queue.length === 0 ? <Muted>{t("queueEmpty")}</Muted> : null}
      {p.queue.map((q) => (
        <Text key={q.audio.id} style={styles.text}>
          {q.title}
        </Text>
      ))}
      <Heading>{t("transcript")}</Heading>
      <Text style={styles.text} testID="transcript">
        {p.transcript || "—"}
      </Text>
    </Screen>
  );
}
