/* global URL */
// Builds the web UI (packages/hub/web) into web/dist with Vite; scripts/setup.sh runs it
// when the UI's sources are newer than the last build.
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

await build({
  root: fileURLToPath(new URL('../web', import.meta.url)),
  configFile: fileURLToPath(new URL('../web/vite.config.ts', import.meta.url)),
  logLevel: 'warn',
});
