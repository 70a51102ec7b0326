// Runs a wasm32-wasip1 test binary under Node.js's WASI (preview1): the cargo runner for
// `cargo test --target wasm32-wasip1` (CARGO_TARGET_WASM32_WASIP1_RUNNER, set by
// scripts/test.d/40-wasm-core.sh), so the filter's core is tested as the code that ships.
//
// The test binary also imports proxy-wasm host functions from `env`. They get stubs that
// throw: the core's tests must never reach the host, and if one does, it fails loudly.
// The checkout is visible at its own path (tests read testdata/ and docs/).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { WASI } from 'node:wasi';

const [wasmPath, ...args] = process.argv.slice(2);
if (!wasmPath) {
  console.error('usage: wasm-test-runner.mjs <test.wasm> [args...]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const passEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k.startsWith('RUST_') || k.startsWith('PROPTEST_')),
);
const wasi = new WASI({
  version: 'preview1',
  args: [path.basename(wasmPath), ...args],
  env: passEnv,
  preopens: { [root]: root },
  returnOnExit: true,
});

const module = await WebAssembly.compile(await readFile(wasmPath));
const imports = wasi.getImportObject();
for (const imp of WebAssembly.Module.imports(module)) {
  if (imp.kind !== 'function' || imports[imp.module]?.[imp.name]) continue;
  imports[imp.module] ??= {};
  imports[imp.module][imp.name] = () => {
    throw new Error(`host function ${imp.module}.${imp.name} called from a core test`);
  };
}
const instance = await WebAssembly.instantiate(module, imports);
process.exitCode = wasi.start(instance);
