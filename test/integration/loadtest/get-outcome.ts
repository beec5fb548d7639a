/**
 * One GET through a load-tester client (H1Client, H2Client: both GetDispatchers), collected into
 * what the client tests assert on: status, Content-Length as handed over, the body (bytes and
 * text), how many data callbacks brought it, or the error it failed with.
 */
import type { Dispatcher } from 'undici';
import type { GetDispatcher, GetRequest } from '../../../bench/loadtest/h1-client.js';

export interface Outcome {
  status: number;
  contentLength?: string;
  /** CMSD-Dynamic as handed over (the one other field the clients pass on). */
  cmsd?: string;
  /** The body as text (UTF-8). */
  body: string;
  bytes: Buffer;
  chunks: number;
  error?: Error & { code?: string };
}

export type Hooks = { onData?: (c: Dispatcher.DispatchController, seen: number) => void };

export function get(
  client: GetDispatcher,
  origin: string,
  path: string,
  extra: Partial<GetRequest> = {},
  hooks: Hooks = {},
): Promise<Outcome> {
  return new Promise<Outcome>((resolve) => {
    const out: Outcome = { status: 0, body: '', bytes: Buffer.alloc(0), chunks: 0 };
    const parts: Buffer[] = [];
    const settle = () => {
      out.bytes = Buffer.concat(parts);
      out.body = out.bytes.toString();
      resolve(out);
    };
    client.dispatch(
      { origin, path, method: 'GET', ...extra },
      {
        onResponseStart: (_c, status, headers) => {
          out.status = status;
          out.contentLength = headers['content-length'] as string | undefined;
          out.cmsd = headers['cmsd-dynamic'] as string | undefined;
        },
        onResponseData: (c, chunk) => {
          parts.push(Buffer.from(chunk));
          out.chunks++;
          hooks.onData?.(c, out.chunks);
        },
        onResponseEnd: settle,
        onResponseError: (_c, e) => {
          out.error = e;
          settle();
        },
      },
    );
  });
}

/**
 * A GET whose handler pauses the response at every chunk and resumes it on the next turn of the
 * event loop (what shaping does), with how many pauses it made.
 */
export async function getPausingEachChunk(
  client: GetDispatcher,
  origin: string,
  path: string,
): Promise<{ outcome: Outcome; pauses: number }> {
  let pauses = 0;
  const outcome = await get(
    client,
    origin,
    path,
    {},
    {
      onData: (c) => {
        pauses++;
        c.pause();
        setImmediate(() => c.resume());
      },
    },
  );
  return { outcome, pauses };
}

/**
 * A GET its handler aborts at the first body chunk: resolves with how it settled ('aborted', or
 * 'ended'/'error' if it never got a chunk); `callbacksAfter()` counts data callbacks after the abort.
 */
export async function getAbortingAtFirstChunk(
  client: GetDispatcher,
  origin: string,
  path: string,
): Promise<{ settled: string; callbacksAfter: () => number }> {
  let after = 0;
  let aborted = false;
  const settled = await new Promise<string>((resolve) => {
    client.dispatch(
      { origin, path, method: 'GET' },
      {
        onResponseData: (c) => {
          if (aborted) after++;
          else {
            aborted = true;
            c.abort(new Error('abandon'));
            resolve('aborted');
          }
        },
        onResponseEnd: () => resolve('ended'),
        onResponseError: () => resolve('error'),
      },
    );
  });
  return { settled, callbacksAfter: () => after };
}
