// Store configuration: identifiers, version, icons, permissions, over-the-air updates.
// EAS_PROJECT_ID comes from `eas init` (the project's id on expo.dev); docs/mobile.md.
import type { ConfigContext, ExpoConfig } from "expo/config";

const projectId = process.env.EAS_PROJECT_ID ?? "00000000-0000-0000-0000-000000000000";

export default ({ config }: ConfigContext): ExpoConfig => ({
  ...config,
  name: "NewsTalk",
  slug: "newstalk",
  owner: process.env.EAS_OWNER ?? "newstalk",
  scheme: "newstalk",
  version: "1.0.0",
  orientation: "portrait",
  icon: "./assets/icon.png",
  userInterfaceStyle: "light",
  runtimeVersion: { policy: "sdkVersion" },
  updates: { url: `https://u.expo.dev/${projectId}`, fallbackToCacheTimeout: 0 },
  assetBundlePatterns: ["**/*"],
  ios: {
    bundleIdentifier: "com.newstalk.ai",
    buildNumber: "1",
    supportsTablet: true,
    config: { usesNonExemptEncryption: false },
    infoPlist: {
      UIBackgroundModes: ["audio", "remote-notification"],
      LSApplicationCategoryType: "public.app-category.news",
    },
    privacyManifests: {
      NSPrivacyTracking: false,
      NSPrivacyTrackingDomains: [],
      NSPrivacyCollectedDataTypes: [
        {
          NSPrivacyCollectedDataType: "NSPrivacyCollectedDataTypeEmailAddress",
          NSPrivacyCollectedDataTypeLinked: true,
          NSPrivacyCollectedDataTypeTracking: false,
          NSPrivacyCollectedDataTypePurposes: ["NSPrivacyCollectedDataTypePurposeAppFunctionality"],
        },
        {
          NSPrivacyCollectedDataType: "NSPrivacyCollectedDataTypeCrashData",
          NSPrivacyCollectedDataTypeLinked: false,
          NSPrivacyCollectedDataTypeTracking: false,
          NSPrivacyCollectedDataTypePurposes: ["NSPrivacyCollectedDataTypePurposeAppFunctionality"],
        },
        {
          NSPrivacyCollectedDataType: "NSPrivacyCollectedDataTypePerformanceData",
          NSPrivacyCollectedDataTypeLinked: false,
          NSPrivacyCollectedDataTypeTracking: false,
          NSPrivacyCollectedDataTypePurposes: ["NSPrivacyCollectedDataTypePurposeAppFunctionality"],
        },
      ],
      NSPrivacyAccessedAPITypes: [
        {
          NSPrivacyAccessedAPIType: "NSPrivacyAccessedAPICategoryUserDefaults",
          NSPrivacyAccessedAPITypeReasons: ["CA92.1"],
        },
      ],
    },
  },
  android: {
    package: "com.newstalk.ai",
    versionCode: 1,
    adaptiveIcon: { foregroundImage: "./assets/adaptive-icon.png", backgroundColor: "#1d4ed8" },
    permissions: ["android.permission.FOREGROUND_SERVICE", "android.permission.FOREGROUND_SERVICE_MEDIA_PLAYBACK", "android.permission.POST_NOTIFICATIONS"],
    blockedPermissions: [
      "android.permission.RECORD_AUDIO",
      "android.permission.ACCESS_FINE_LOCATION",
      "android.permission.ACCESS_COARSE_LOCATION",
      "android.permission.CAMERA",
      "android.permission.USE_BIOMETRIC",
      "android.permission.USE_FINGERPRINT",
      // The React Native template's: no feature draws over other apps or reads shared storage
      // (downloads live in the app's own documents folder).
      "android.permission.SYSTEM_ALERT_WINDOW",
      "android.permission.READ_EXTERNAL_STORAGE",
      "android.permission.WRITE_EXTERNAL_STORAGE",
    ],
  },
  web: { bundler: "metro", output: "single", favicon: "./assets/favicon.png" },
  plugins: [
    "expo-router",
    // Tokens are kept without biometrics: no Face ID prompt text, no biometric permissions.
    ["expo-secure-store", { faceIDPermission: false }],
    "expo-localization",
    ["expo-splash-screen", { image: "./assets/splash.png", imageWidth: 200, resizeMode: "contain", backgroundColor: "#1d4ed8" }],
    ["expo-audio", { microphonePermission: false, recordAudioAndroid: false, enableBackgroundPlayback: true }],
    ["expo-notifications", { icon: "./assets/notification-icon.png", color: "#1d4ed8" }],
  ],
  experiments: { typedRoutes: false },
  extra: { eas: { projectId } },
});
