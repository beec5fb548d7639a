// Worker threads start without the tsx loader: register it, then run the TypeScript entry.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
