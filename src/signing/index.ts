/** Signed URLs: the public surface for origin, edge and tools. */
export * from './keys.js';
export * from './key-config.js';
export * from './issue.js';
export * from './token-placement.js';
export * from './redact.js';
export * from './scope-match.js';
export * from './ip-binding.js';
export * from './verify.js';
export * from './playlist-rewrite.js';
export * from './sign-endpoint.js';
export * from './reloading-key-source.js';
export * from './upstream-credential.js';
