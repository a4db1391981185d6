// Composes subgraph SDLs with @theguild/federation-composition (a real federation composer).
// stdin: [{"name": ..., "sdl": ..., "url"?: ...}] (url: where a router reaches it); stdout: {"errors": [...], "publicSdl": ..., "supergraphSdl": ...}
import { composeServices } from '@theguild/federation-composition';
import { parse } from 'graphql';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const services = JSON.parse(input).map(({ name, sdl, url }) => ({
  name,
  url: url ?? `http://${name}.invalid/graphql`,
  typeDefs: parse(sdl),
}));
const result = composeServices(services);
process.stdout.write(JSON.stringify({
  errors: (result.errors ?? []).map((error) => error.message),
  publicSdl: result.publicSdl ?? null,
  supergraphSdl: result.supergraphSdl ?? null,
}));
