// The real server (startServer: the app, the realtime hub, the memory store) in this process,
// behind a TcpProxy, for chaos scenarios that need neither a restart nor a browser.
import { loadConfig } from '../../../server/config.js';
import { startServer, type RunningServer } from '../../../server/serve.js';
import { TcpProxy } from './tcp-proxy.js';

const quietLog = { error: () => {}, warn: () => {} };

export interface ProxiedServer {
  server: RunningServer;
  proxy: TcpProxy;
  close(): Promise<void>;
}

export async function startProxiedServer(env: Record<string, string> = {}): Promise<ProxiedServer> {
  const config = loadConfig({
    STORE: 'memory',
    PORT: '0',
    RATE_LIMIT_PER_MINUTE: '0',
    ADMIN_TOKEN: '',
    ...env,
  });
  const server = await startServer({ config, log: quietLog });
  const proxy = await TcpProxy.start({ port: server.port });
  return {
    server,
    proxy,
    async close() {
      await proxy.close();
      await server.close();
    },
  };
}
