// Signs in a benchmark administrator on a fresh server and prepares users with activation passwords.
import { AdminClient, httpsTransport } from '@enclave/client';

export async function adminFor(server) {
  const bootstrap = httpsTransport({ baseUrl: server.url, insecure: true });
  const ca = (await new AdminClient(bootstrap).caInfo()).chain.join('\n');
  const transport = httpsTransport({ baseUrl: server.url, ca });
  const admin = new AdminClient(transport);
  const password = 'benchmark admin passphrase';
  await admin.setup({ code: server.setupCode, email: 'bench@example.com', password });
  await admin.login({ email: 'bench@example.com', password });
  return { admin, transport, ca };
}

/** Creates `n` users with one activation password each (the server's OPAQUE registration runs here). */
export async function usersWithPasswords(admin, n, prefix) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const email = `${prefix}-${i}@example.com`;
    await admin.createUser({ email, name: `${prefix} ${i}` });
    const a = await admin.createActivation({ email });
    out.push({ email, password: a.password });
  }
  return out;
}
