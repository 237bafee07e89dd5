// Search stories and articles (the server's full-text and semantic search).
import { Link } from "expo-router";
import { useCallback, useEffect, useState } from "react";
import { Text, TextInput, View } from "react-native";

import type { SearchPage } from "@/api/types";
import { Empty, ErrorState, Loading, Muted, Offline, Screen, Title, styles } from "@/components/ui";
import { useLoad } from "@/lib/useLoad";
import { useApp, useClient } from "@/state/app";

export default function SearchScreen() {
  const { t } = useApp();
  const api = useClient();
  const [text, setText] = useState("");
  const [query, setQuery] = useState("");

  useEffect(() => {
    const timer = setTimeout(() => setQuery(text.trim()), 300);
    return () => clearTimeout(timer);
  }, [text]);

  const run = useCallback(() => api.search(query), [api, query]);
  const result = useLoad<SearchPage>(query.length >= 2 ? run : null);

  return (
    <Screen>
      <Title>{t("tabSearch")}</Title>
      <TextInput
        accessibilityLabel={t("searchPlaceholder")}
        placeholder={t("searchPlaceholder")}
        testID="search-input"
        style={styles.input}
        value={text}
        onChangeText={setText}
        autoCapitalize="none"
        returnKeyType="search"
      />
      {query.length < 2 ? <Muted>{t("searchHint")}</Muted> : null}
      {query.length >= 2 && result.status === "loading" ? <Loading /> : null}
      {query.length >= 2 && result.status === "error" ? <ErrorState message={result.message} onRetry={result.reload} /> : null}
      {query.length >= 2 && result.status === "offline" ? <Offline onRetry={result.reload} nothing /> : null}
      {query.length >= 2 && result.status === "ready" && result.data.items.length === 0 ? <Empty text={t("searchEmpty")} /> : null}
      {query.length >= 2 && result.status === "ready"
        ? result.data.items.map((hit) => {
            const storyId = hit.type === "story" ? hit.id : hit.story_id;
            const body = (
              <View style={styles.card}>
                <Text style={styles.text}>{hit.title}</Text>
                <Muted>{hit.snippet}</Muted>
                {hit.outlet ? <Muted>{hit.outlet}</Muted> : null}
              </View>
            );
            return storyId ? (
              <Link key={`${hit.type}-${hit.id}`} href={`/story/${storyId}`} testID="search-hit">
                {body}
              </Link>
            ) : (
              <View key={`${hit.type}-${hit.id}`} testID="search-hit">
                {body}
              </View>
            );
          })
        : null}
    </Screen>
  );
}
