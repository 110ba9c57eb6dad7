/// <reference types="vitest" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Built by Maven (see ../control-plane/pom.xml) into the control plane's static resources, served at /.
// `npm run dev` serves the UI with live reload and proxies /api to a control plane: PIPEFILL_URL, default
// http://127.0.0.1:8080 (`./pipefill up`).
export default defineConfig({
  plugins: [react()],
  base: '/',
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: { proxy: { '/api': process.env.PIPEFILL_URL ?? 'http://127.0.0.1:8080' } },
  test: { environment: 'node', include: ['src/**/*.test.ts'] },
});
