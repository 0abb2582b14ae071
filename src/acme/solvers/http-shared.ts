/**
 * http-01 in a cluster (issue 16): the key authorisation goes to the shared store, and every
 * node's daemon answers `/.well-known/acme-challenge/<token>` from it, behind the acme-challenge
 * nginx snippet that proxies there. So the CA may reach any node behind the load balancer, not
 * only the one that placed the order. The store is reached through a port (acme/ does not import
 * store/): the service wires it.
 */
import { AcmeError, errorMessage } from '../../core/errors.js';
import type { PreflightConfig } from '../../config/types.js';
import type { ChallengeSolver, ChallengeTask } from '../types.js';
import { TOKEN_PATTERN, assertValidToken, preflightHttp01 } from './http-preflight.js';

export interface SharedTokens {
  put(task: { token: string; keyAuthorization: string; domain: string }): Promise<void>;
  remove(token: string): Promise<void>;
}

const WHO = 'http-01 shared';

export function createSharedSolver(opts: { tokens: SharedTokens; preflight: PreflightConfig }): ChallengeSolver {
  const { tokens, preflight } = opts;
  return {
    type: 'http-01',
    describe: `${WHO} (served by every node's daemon from the store)`,
    async present(task: ChallengeTask, signal?: AbortSignal) {
      signal?.throwIfAborted();
      assertValidToken(task, WHO);
      try {
        await tokens.put({ token: task.token, keyAuthorization: task.keyAuthorization, domain: task.domain });
      } catch (err) {
        throw new AcmeError('challenge', `domain "${task.domain}": ${WHO}: cannot store the key authorisation: ${errorMessage(err)}`, { domain: task.domain }, { cause: err });
      }
    },
    async preflight(task: ChallengeTask, signal?: AbortSignal) {
      await preflightHttp01(task, preflight, signal);
    },
    async cleanup(task: ChallengeTask) {
      if (typeof task.token !== 'string' || !TOKEN_PATTERN.test(task.token)) return;
      await tokens.remove(task.token);
    },
  };
}
