/**
 * Vite `?url` imports (the bundler copies the file into dist/web and the import is its URL).
 * Declared here so that tsc, which compiles src/ for Node without Vite's client types, accepts them.
 */
declare module '*.wasm?url' {
  const url: string;
  export default url;
}
