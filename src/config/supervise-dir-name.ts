// Where a service's supervise dir is and what the service is called: the dir's basename.

import path from 'node:path';
import { systemSuperviseRoot, userSuperviseRoot } from '../supervise-dir/roots';
import { ConfigError } from './errors';
import { type ConfigInput, type LoadContext, labelOf } from './input';

/** A supervise dir name becomes one path component: no slashes, no `..` escaping the root. */
function plainName(name: string, label: string, ctlLabel: string): string {
  const normal = path.normalize(name);
  if (normal === '' || normal === '.' || normal === '..' || normal.includes('/')) {
    throw new ConfigError(`${label} ${name}: expected a plain name (or, for ${ctlLabel}, an absolute path)`);
  }
  return normal;
}

/** ctl (absolute, or a name under $IMMORTAL_SDIR) | name | the run.yml's name | the supervisor's pid, in that order. */
export function resolveSuperviseDir(input: Pick<ConfigInput, 'ctl' | 'name' | 'config' | 'labels'>, env: NodeJS.ProcessEnv, ctx: LoadContext): string {
  if (input.ctl !== undefined) {
    if (path.isAbsolute(input.ctl)) return path.resolve(input.ctl);
    return path.resolve(systemSuperviseRoot(env), plainName(input.ctl, labelOf(input, 'ctl'), labelOf(input, 'ctl')));
  }
  const home = userSuperviseRoot(ctx.home);
  if (input.name !== undefined) return path.join(home, plainName(input.name, labelOf(input, 'name'), labelOf(input, 'ctl')));
  if (input.config !== undefined) return path.join(home, serviceNameOf(input.config));
  return path.join(home, String(ctx.pid));
}

/** `/etc/immortal/web.yml` → `web`. */
export function serviceNameOf(configFile: string): string {
  return path.basename(configFile).replace(/\.ya?ml$/, '') || path.basename(configFile);
}
