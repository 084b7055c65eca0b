/** Option 2 of the seed, issuer half: handles HTTP and publishes audit events to the queue. */
import { handleIssuerRequest, type IssuerEnv } from '../../../shared/issuer.js'

export default {
  fetch(request: Request, env: IssuerEnv, ctx: { waitUntil(p: Promise<unknown>): void }): Promise<Response> {
    return handleIssuerRequest(request, env, ctx)
  },
}
