// ESLint flat config: Expo's rules (React, hooks, TypeScript, imports).
const { defineConfig } = require("eslint/config");
const expoConfig = require("eslint-config-expo/flat");
const globals = require("globals");

module.exports = defineConfig([
  expoConfig,
  { ignores: ["dist/*", "node_modules/*", ".expo/*"] },
  { files: ["jest.setup.js", "jest.after-env.js", "__tests__/**"], languageOptions: { globals: globals.jest } },
]);
