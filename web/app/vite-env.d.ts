// Vite client types: CSS imports and import.meta.env in the app.
/// <reference types="vite/client" />
