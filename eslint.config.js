// ESLint for the pages (make test): the recommended rules, in the browser, with Office.js.
import js from "@eslint/js";
import globals from "globals";

export default [
  { ignores: ["src/mailfiler/web/types/**"] },
  js.configs.recommended,
  {
    files: ["src/mailfiler/web/**/*.js"],
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: "module",
      globals: { ...globals.browser, Office: "readonly" },
    },
    rules: {
      "no-unused-vars": ["error", { args: "after-used", caughtErrors: "none" }],
      eqeqeq: "error",
      "prefer-const": "error",
    },
  },
  {
    files: ["tests/js/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: globals.node },
  },
];
