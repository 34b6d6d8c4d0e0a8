import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by the Enclave server itself (same origin, strict CSP: no inline scripts or
// styles), from packages/console/dist/web. `npm run dev -w @enclave/console` proxies the API to a local server.
export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist/web',
    emptyOutDir: true,
    sourcemap: false,
    // Leave assets as files: the CSP forbids data: script/style URLs.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 600,
  },
  server: {
    proxy: { '/api': { target: 'https://127.0.0.1:8443', secure: false } },
  },
});
