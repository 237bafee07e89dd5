// Shapes of the NewsTalk HTTP API the app reads (see /openapi.json on any server).

export interface Tokens {
  access_token: string;
  token_type: "bearer";
  expires_in: number;
  refresh_token: string;
  refresh_expires_in: number;
}

export interface User {
  id: number;
  email: string;
  display_name: string;
  role: string;
}

export interface AuthResult {
  user: User;
  tokens: Tokens;
}

export interface Trend {
  score: number;
  reason: string | null;
  /** The reason in each UI language (en, ko); absent for stories scored by an older server. */
  reasons?: Record<string, string> | null;
}

export interface FeedItem {
  story_id: number;
  rank: number;
  score: number;
  reason: string;
  why: string;
  title: string;
  category: string | null;
  languages: string[];
  keywords: string[];
  outlets: string[];
  article_count: number;
  outlet_count: number;
  last_seen_at: string;
}

export interface FeedPage {
  items: FeedItem[];
  next_cursor: string | null;
  as_of: string;
}

export interface StorySummary {
  id: number;
  title: string;
  summary: string[];
  category: string | null;
  languages: string[];
  keywords: string[];
  article_count: number;
  outlet_count: number;
  last_seen_at: string;
  trending: Trend;
}

export interface OutletCoverage {
  source_id: number;
  outlet: string;
  articles: number;
  headline: string;
  url: string;
  language: string;
}

export interface StoryDetail extends StorySummary {
  coverage: OutletCoverage[];
}

export interface Evidence {
  outlet: string;
  url: string;
  quote: string;
  stance: string;
  score: number;
  conflicts: string[];
}

export interface Claim {
  id: number | null;
  text: string;
  outlet: string | null;
  verdict: string;
  confidence: number;
  explanation: string;
  evidence: Evidence[];
}

export interface StoryFactcheck {
  story_id: number;
  checked_at: string | null;
  verdicts: Record<string, number>;
  claims: Claim[];
}

export interface Citation {
  outlet: string;
  url: string;
  quote: string;
}

export interface Turn {
  position: number;
  question: string;
  answer: string;
  found: boolean;
  citations: Citation[];
  created_at: string;
}

export interface AskResult {
  thread_id: number;
  story_id: number;
  turn: Turn;
}

export interface ThreadSummary {
  id: number;
  story_id: number;
  title: string;
  turn_count: number;
  updated_at: string;
}

export interface ThreadDetail extends ThreadSummary {
  turns: Turn[];
}

export interface SearchHit {
  type: string;
  id: number;
  title: string;
  snippet: string;
  outlet: string | null;
  story_id: number | null;
}

export interface SearchPage {
  query: string;
  items: SearchHit[];
  next_cursor: string | null;
}

export interface Preferences {
  categories: string[];
  keywords: string[];
  outlets: number[];
  languages: string[];
  muted_topics: string[];
  muted_outlets: number[];
  voice: string | null;
  playback_speed: number;
}

export interface AudioStatus {
  id: string;
  status: "queued" | "ready" | "failed" | string;
  status_url: string;
  format: string;
  url: string | null;
  transcript_url: string | null;
  chapters_url: string | null;
  duration_s: number | null;
  lang: string;
  error: string | null;
  playback_speed: number | null;
}

export interface Chapter {
  startTime: number;
  title: string;
}
