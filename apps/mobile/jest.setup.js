// Native modules that have no JavaScript implementation under Jest get small stand-ins here.
// The app's own code is never replaced: screens talk to the real API client, whose network
// (fetch) each test supplies.
jest.mock("@react-native-async-storage/async-storage", () =>
  require("@react-native-async-storage/async-storage/jest/async-storage-mock"),
);

jest.mock("expo-audio", () => {
  const listeners = new Set();
  const player = {
    playing: false,
    currentTime: 0,
    duration: 0,
    replace: jest.fn(),
    play: jest.fn(),
    pause: jest.fn(),
    seekTo: jest.fn(async () => undefined),
    setPlaybackRate: jest.fn(),
    setActiveForLockScreen: jest.fn(),
    remove: jest.fn(),
    addListener: (_event, fn) => {
      listeners.add(fn);
      return { remove: () => listeners.delete(fn) };
    },
  };
  // What useAudioPlayerStatus reports; a test sets it (before rendering) through __setStatus.
  const initialStatus = { playing: false, currentTime: 0, duration: 0, didJustFinish: false };
  let status = { ...initialStatus };
  return {
    createAudioPlayer: () => player,
    setAudioModeAsync: async () => undefined,
    useAudioPlayerStatus: () => status,
    __setStatus: (next) => {
      status = { ...initialStatus, ...next };
    },
  };
});

jest.mock("expo-localization", () => ({ getLocales: () => [{ languageCode: "en" }] }));

