// Today: the listener's personal feed with the reason for each story, and what is trending.
// The last loaded copy is shown offline; the live stream flags new stories while open.
import { Link } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { RefreshControl, ScrollView, Text, View } from "react-native";

import type { FeedItem, FeedPage, StorySummary } from "@/api/types";
import { Empty, ErrorState, Heading, Loading, Muted, Offline, Title, styles } from "@/components/ui";
import { openLive } from "@/lib/live";
import { keys } from "@/lib/storage";
import { useLoad } from "@/lib/useLoad";
import { useApp, useClient } from "@/state/app";

function FeedCard({ item }: { item: FeedItem }) {
  const { t } = useApp();
  return (
    <Link href={`/story/${item.story_id}`} testID={`feed-item-${item.story_id}`}>
      <View style={styles.card}>
        <Text style={styles.heading}>{item.title}</Text>
        <Muted>
          {item.outlet_count} {t(item.outlet_count === 1 ? "outlet" : "outlets")} · {item.article_count}{" "}
          {t(item.article_count === 1 ? "article" : "articles")}
          {item.category ? ` · ${item.category}` : ""}
        </Muted>
        <Muted>
          {t("why")}: {item.why || item.reason}
        </Muted>
      </View>
    </Link>
  );
}

function TrendingCard({ story }: { story: StorySummary }) {
  const { locale } = useApp();
  const reason = story.trending.reasons?.[locale] ?? story.trending.reason;
  return (
    <Link href={`/story/${story.id}`} testID={`trending-item-${story.id}`}>
      <View style={styles.card}>
        <Text style={styles.text}>{story.title}</Text>
        {reason ? <Muted>{reason}</Muted> : null}
      </View>
    </Link>
  );
}

export default function TodayScreen() {
  const { t, server, client } = useApp();
  const api = useClient();
  const loadFeed = useCallback(() => api.feed(), [api]);
  const loadTrending = useCallback(() => api.trending(), [api]);
  const feed = useLoad<FeedPage>(loadFeed, keys.feedCache(server ?? ""));
  const trending = useLoad<StorySummary[]>(loadTrending, keys.trendingCache(server ?? ""));
  const [fresh, setFresh] = useState(0);

  useEffect(() => {
    if (!client || typeof XMLHttpRequest === "undefined") return;
    return openLive(client.url("/api/v1/stream?type=story.updated"), client, (event) => {
      if (event.type.startsWith("story")) setFresh((n) => n + 1);
    });
  }, [client]);

  const refresh = () => {
    setFresh(0);
    feed.reload();
    trending.reload();
  };
  const stale = (feed.status === "ready" && feed.stale) || feed.status === "offline";

  return (
    <ScrollView
      style={{ flex: 1 }}
      contentContainerStyle={styles.content}
      refreshControl={<RefreshControl refreshing={false} onRefresh={refresh} />}
      testID="today"
    >
      <Title>{t("tabToday")}</Title>
      {stale ? <Offline onRetry={refresh} nothing={feed.status === "offline"} /> : null}
      {fresh > 0 ? (
        <Text style={styles.muted} testID="live-new" onPress={refresh}>
          {t("live")}: {t("newStories")}
        </Text>
      ) : null}
      <Heading>{t("forYou")}</Heading>
      {feed.status === "loading" ? <Loading /> : null}
      {feed.status === "error" ? <ErrorState message={feed.message} onRetry={feed.reload} /> : null}
      {feed.status === "ready" && feed.data.items.length === 0 ? <Empty text={t("feedEmpty")} /> : null}
      {feed.status === "ready" ? feed.data.items.map((item) => <FeedCard key={item.story_id} item={item} />) : null}
      <Heading>{t("trending")}</Heading>
      {trending.status === "loading" ? <Loading /> : null}
      {trending.status === "error" ? <ErrorState message={trending.message} onRetry={trending.reload} /> : null}
      {trending.status === "ready" && trending.data.length === 0 ? <Empty text={t("trendingEmpty")} /> : null}
      {trending.status === "ready" ? trending.data.map((s) => <TrendingCard key={s.id} story={s} />) : null}
    </ScrollView>
  );
}
