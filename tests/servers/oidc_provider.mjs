// An OpenID Connect provider on loopback for the test suite (the npm package oidc-provider, pinned in
// package.json). Started by tests/oidcserver.py with its settings in the environment:
//   OIDC_TEST_PORT     the loopback port to listen on
//   OIDC_TEST_CLIENT   JSON of the one client: client_id, client_secret, redirect_uris, post_logout_redirect_uris
//   OIDC_TEST_ACCOUNTS JSON object: login name -> claims (sub is the login name)
// The login page is the package's own development page (any password); consent is given by the portal itself
// (first-party client), as hospital portals do. Prints "ready" once listening.
import { generateKeyPair, exportJWK } from 'jose';
import Provider from 'oidc-provider';

const port = Number(process.env.OIDC_TEST_PORT);
const client = JSON.parse(process.env.OIDC_TEST_CLIENT);
const accounts = JSON.parse(process.env.OIDC_TEST_ACCOUNTS);
const issuer = `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair('RS256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{ grant_types: ['authorization_code'], response_types: ['code'], ...client }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['test-only-cookie-key'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'employee_number', 'department', 'organisation', 'roles'],
  },
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid email profile');
    await grant.save();
    return grant;
  },
});
provider.proxy = false;
const server = provider.listen(port, '127.0.0.1', () => { console.log('ready'); });
process.on('SIGTERM', () => server.close(() => process.exit(0)));
