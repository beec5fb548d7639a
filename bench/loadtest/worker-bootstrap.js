// Worker threads start without a TypeScript loader: run the entry through bin/ts-launch.js.
import { importTs } from '../../bin/ts-launch.js';

await importTs(new URL('./worker-main.ts', import.meta.url));
