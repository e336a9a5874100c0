import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IHorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import type { IJob } from 'kubernetes-models/batch/v1/Job';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { IService } from 'kubernetes-models/v1/Service';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import {
  find,
  type KubeObject,
  KUBERNETES_DIR,
  KUBERNETES_SCHEMA_VERSION,
  overlays,
  render,
  renderDirectory,
  requireKubectl,
  schemaErrors,
} from './helpers/manifests.js';

const available = await requireKubectl();
const rendered = new Map<string, KubeObject[]>();
if (available) for (const o of overlays()) rendered.set(o, await render(o));
const objects = (overlay: string) => rendered.get(overlay) ?? [];

/** Every label of `selector` is on the object with these labels. */
const selects = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);

/** The Secret and key mounted at the path `<variable>_FILE` names. */
function secretFileOf(pod: IPodSpec, container: IContainer, variable: string) {
  const file = container.env?.find((e) => e.name === `${variable}_FILE`)?.value;
  const mount = container.volumeMounts?.find((m) => file?.startsWith(`${m.mountPath}/`));
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  const item = volume?.secret?.items?.find((i) => `${mount?.mountPath}/${i.path}` === file);
  return { secret: volume?.secret?.secretName, key: item?.key };
}

/** What a stream process (streams or relay) must be: probed, its URL from a Secret file. */
function expectStreamProcess(objects: KubeObject[], deployment: IDeployment, args: string[]) {
  const pod = deployment.spec!.template.spec!;
  const labels = deployment.spec!.template.metadata!.labels!;
  const [container] = pod.containers;
  expect(container!.args).toEqual(args);
  const configName = container!.envFrom?.[0]?.configMapRef?.name;
  const config = find<IConfigMap>(objects, 'ConfigMap').find(
    (c) => c.metadata?.name === configName,
  );
  expect(config?.data?.DISPATCHBOX_STREAMS_DIR).toBe('/app/stream-handlers');
  expect(container!.ports).toEqual([
    expect.objectContaining({
      name: 'http',
      containerPort: Number(config?.data?.DISPATCHBOX_HEALTH_PORT),
    }),
  ]);
  expect(container!.startupProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
  expect(container!.livenessProbe?.httpGet).toMatchObject({ path: '/health', port: 'http' });
  expect(container!.readinessProbe?.httpGet).toMatchObject({ path: '/ready', port: 'http' });
  // The stream server's URL (it may hold a password) comes from a mounted Secret's file,
  // never from the environment or the ConfigMap.
  expect(secretFileOf(pod, container!, 'DISPATCHBOX_STREAMS_URL')).toEqual({
    secret: 'dispatchbox-streams',
    key: 'url',
  });
  expect(container!.env?.some((e) => e.name === 'DISPATCHBOX_STREAMS_URL')).toBe(false);
  expect(config?.data?.DISPATCHBOX_STREAMS_URL).toBeUndefined();
  const drainMs = Number(config?.data?.DISPATCHBOX_SHUTDOWN_TIMEOUT_MS);
  expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(drainMs + 5000);
  // scraped by the streams' metrics Service, not counted as workers
  const streamsMetrics = find<IService>(objects, 'Service', 'dispatchbox-streams-metrics')[0];
  expect(selects(streamsMetrics?.spec?.selector, labels)).toBe(true);
  const metrics = find<IService>(objects, 'Service', 'dispatchbox-metrics')[0];
  expect(selects(metrics?.spec?.selector, labels)).toBe(false);
  // no other Deployment's selector takes these pods
  const others = find<IDeployment>(objects, 'Deployment').filter(
    (d) => d.metadata?.name !== deployment.metadata?.name,
  );
  for (const other of others) expect(selects(other.spec?.selector.matchLabels, labels)).toBe(false);
}

const workerDeployments = (overlay: string) =>
  find<IDeployment>(objects(overlay), 'Deployment').filter(
    (d) => d.metadata?.labels?.['app.kubernetes.io/component'] === 'worker',
  );

describe.runIf(available)(
  `deploy/kubernetes against Kubernetes ${KUBERNETES_SCHEMA_VERSION}`,
  () => {
    it('has the overlays dev, staging, prod and per-domain', () => {
      expect(overlays()).toEqual(['dev', 'per-domain', 'prod', 'staging']);
    });

    it.each(overlays())('%s: every object is valid against the API schemas', async (overlay) => {
      expect(objects(overlay).length).toBeGreaterThan(5);
      const errors = (await Promise.all(objects(overlay).map(schemaErrors))).flat();
      expect(errors).toEqual([]);
    });

    it('the schema check refuses what the API server would', async () => {
      const [deployment] = workerDeployments('staging');
      const broken = structuredClone(deployment) as unknown as KubeObject & IDeployment;
      broken.spec!.template.spec!.containers[0]!.ports = [
        { containerPort: '8080' as unknown as number },
      ];
      expect(await schemaErrors(broken)).toEqual([
        expect.stringContaining('containerPort must be integer'),
      ]);
      expect(await schemaErrors({ ...broken, apiVersion: 'extensions/v1beta1' })).toEqual([
        expect.stringContaining('serves no API extensions/v1beta1'),
      ]);
    });

    it.each(overlays())('%s: pods run non-root on a read-only root, no privileges', (overlay) => {
      const pods: IPodSpec[] = [
        ...find<IDeployment>(objects(overlay), 'Deployment').map((d) => d.spec!.template.spec!),
        ...find<IJob>(objects(overlay), 'Job').map((j) => j.spec!.template.spec!),
      ];
      expect(pods.length).toBeGreaterThanOrEqual(2);
      for (const pod of pods) {
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 1000,
          seccompProfile: { type: 'RuntimeDefault' },
        });
        expect(pod.automountServiceAccountToken).toBe(false);
        for (const c of pod.containers) {
          expect(c.securityContext).toMatchObject({
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          });
          expect(c.resources?.requests).toBeDefined();
          expect(c.resources?.limits?.memory).toBeDefined();
          // The database URL comes from a file of a mounted Secret, never the environment.
          const file = c.env?.find((e) => e.name === 'DISPATCHBOX_DATABASE_URL_FILE')?.value;
          const mount = c.volumeMounts?.find((m) => file?.startsWith(`${m.mountPath}/`));
          const volume = pod.volumes?.find((v) => v.name === mount?.name);
          expect(volume?.secret?.secretName).toBe('dispatchbox-database');
          expect(c.env?.some((e) => e.name === 'DISPATCHBOX_DATABASE_URL')).toBe(false);
          expect(c.envFrom?.some((e) => e.secretRef)).toBeFalsy();
        }
      }
    });

    it.each(overlays())('%s: workers are probed, drain in time and are scraped', (overlay) => {
      const configs = find<IConfigMap>(objects(overlay), 'ConfigMap');
      const service = find<IService>(objects(overlay), 'Service', 'dispatchbox-metrics')[0]!;
      const pdbs = find<IPodDisruptionBudget>(objects(overlay), 'PodDisruptionBudget');
      expect(workerDeployments(overlay).length).toBeGreaterThan(0);
      for (const deployment of workerDeployments(overlay)) {
        const pod = deployment.spec!.template.spec!;
        const labels = deployment.spec!.template.metadata!.labels!;
        const [worker] = pod.containers;
        expect(worker!.args).toEqual(['worker']);
        expect(worker!.livenessProbe?.httpGet).toMatchObject({ path: '/health', port: 'metrics' });
        expect(worker!.readinessProbe?.httpGet).toMatchObject({ path: '/ready', port: 'metrics' });
        expect(worker!.ports).toContainEqual(
          expect.objectContaining({ name: 'metrics', containerPort: 8080 }),
        );
        // The settings the pod reads exist under the (hashed) name it refers to.
        const configName = worker!.envFrom?.[0]?.configMapRef?.name;
        const config = configs.find((c) => c.metadata?.name === configName);
        expect(config?.data?.DISPATCHBOX_HEALTH_PORT).toBe('8080');
        const drainMs = Number(config?.data?.DISPATCHBOX_SHUTDOWN_TIMEOUT_MS);
        expect(drainMs).toBeGreaterThan(0);
        expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(drainMs + 5000);
        expect(pod.volumes?.find((v) => v.name === 'tmp')?.emptyDir).toBeDefined();
        // The metrics Service and one PodDisruptionBudget cover these pods.
        expect(selects(service.spec?.selector, labels)).toBe(true);
        expect(pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, labels))).toHaveLength(1);
      }
      expect(service.metadata?.annotations).toMatchObject({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': '8080',
        'prometheus.io/path': '/metrics',
      });
      expect(service.spec?.ports).toEqual([
        expect.objectContaining({ name: 'metrics', port: 8080 }),
      ]);
      const [migrate] = find<IJob>(objects(overlay), 'Job', 'dispatchbox-migrate');
      expect(migrate?.spec?.template.spec?.containers[0]?.args).toEqual(['migrate']);
    });

    it.each(['dev', 'staging', 'prod'])(
      '%s: the console runs with its token from a mounted Secret, probed on its own port',
      (overlay) => {
        const [deployment] = find<IDeployment>(
          objects(overlay),
          'Deployment',
          'dispatchbox-console',
        );
        const pod = deployment!.spec!.template.spec!;
        const [console] = pod.containers;
        expect(console!.args).toEqual(['console']);
        const env = Object.fromEntries((console!.env ?? []).map((e) => [e.name, e.value]));
        // beyond loopback the console refuses to start without a credential
        expect(env.DISPATCHBOX_CONSOLE_HOST).toBe('0.0.0.0');
        expect(env.DISPATCHBOX_CONSOLE_TOKEN).toBeUndefined();
        const mount = console!.volumeMounts?.find((m) =>
          env.DISPATCHBOX_CONSOLE_TOKEN_FILE?.startsWith(`${m.mountPath}/`),
        );
        const volume = pod.volumes?.find((v) => v.name === mount?.name);
        expect(volume?.secret?.secretName).toBe('dispatchbox-console');
        expect(console!.ports).toEqual([
          expect.objectContaining({
            name: 'http',
            containerPort: Number(env.DISPATCHBOX_CONSOLE_PORT),
          }),
        ]);
        expect(console!.readinessProbe?.httpGet).toMatchObject({ path: '/ready', port: 'http' });
        const [service] = find<IService>(objects(overlay), 'Service', 'dispatchbox-console');
        expect(selects(service?.spec?.selector, deployment!.spec!.template.metadata!.labels!)).toBe(
          true,
        );
        // the metrics Service scrapes workers only
        const metrics = find<IService>(objects(overlay), 'Service', 'dispatchbox-metrics')[0]!;
        expect(selects(metrics.spec?.selector, deployment!.spec!.template.metadata!.labels!)).toBe(
          false,
        );
        // prod ships no placeholder token: the Secret is made in the cluster
        const secrets = find(objects(overlay), 'Secret', 'dispatchbox-console');
        expect(secrets).toHaveLength(overlay === 'prod' ? 0 : 1);
      },
    );

    it.each(['dev', 'staging', 'prod'])(
      '%s: stream handler modules and the outbox relay, probed, the streams URL from a Secret file',
      (overlay) => {
        const all = objects(overlay);
        const [streams] = find<IDeployment>(all, 'Deployment', 'dispatchbox-streams');
        const [relay] = find<IDeployment>(all, 'Deployment', 'dispatchbox-relay');
        expectStreamProcess(all, streams!, ['streams']);
        expectStreamProcess(all, relay!, ['relay']);
        expect(streams!.spec!.replicas).toBe(overlay === 'dev' ? 1 : 2);
        // one relay delivers at a time (a lease); more would only wait
        expect(relay!.spec!.replicas).toBe(1);
        const pdbs = find<IPodDisruptionBudget>(all, 'PodDisruptionBudget');
        const streamPods = streams!.spec!.template.metadata!.labels!;
        const streamPdbs = pdbs.filter((p) => selects(p.spec?.selector?.matchLabels, streamPods));
        expect(streamPdbs.map((p) => p.spec?.maxUnavailable)).toEqual([1]);
        // prod ships no placeholder URL: the Secret is made in the cluster
        const secrets = find<{ stringData?: { url?: string } }>(
          all,
          'Secret',
          'dispatchbox-streams',
        );
        expect(secrets).toHaveLength(overlay === 'prod' ? 0 : 1);
        if (overlay !== 'prod') expect(secrets[0]?.stringData?.url).toMatch(/^redis:\/\//);
      },
    );

    it('the per-handler example, listed in the component, runs one module in a Deployment of its own', async () => {
      // As its comment says to use it: the component with the example among its resources.
      const dir = await mkdtemp(path.join(os.tmpdir(), 'dispatchbox-per-handler-'));
      try {
        const component = path.join(dir, 'streams');
        await cp(path.join(KUBERNETES_DIR, 'components/streams'), component, { recursive: true });
        const kustomization = parse(
          await readFile(path.join(component, 'kustomization.yaml'), 'utf8'),
        ) as { resources: string[] };
        kustomization.resources.push('per-handler-example.yaml');
        await writeFile(path.join(component, 'kustomization.yaml'), stringify(kustomization));
        await writeFile(
          path.join(dir, 'kustomization.yaml'),
          stringify({
            apiVersion: 'kustomize.config.k8s.io/v1beta1',
            kind: 'Kustomization',
            namespace: 'dispatchbox-try',
            resources: [path.relative(dir, path.join(KUBERNETES_DIR, 'base'))],
            components: ['./streams'],
          }),
        );
        const all = await renderDirectory(dir);
        expect((await Promise.all(all.map(schemaErrors))).flat()).toEqual([]);
        const [one] = find<IDeployment>(all, 'Deployment', 'dispatchbox-stream-resources');
        expect(one?.metadata?.namespace).toBe('dispatchbox-try');
        const args = one!.spec!.template.spec!.containers[0]!.args!;
        expectStreamProcess(all, one!, args);
        // it names the stream and group of the example module
        const module = (await import(path.resolve('deploy/stream-handlers/resources.mjs'))) as {
          stream: string;
          group: string;
        };
        expect(args).toEqual(['streams', '--stream', module.stream, '--group', module.group]);
        // the whole-directory Deployment is still there beside it
        expect(find(all, 'Deployment', 'dispatchbox-streams')).toHaveLength(1);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('every overlay lives in its own namespace, on an image of its own', () => {
      const namespaces = overlays().map((o) => {
        const spaces = new Set(
          objects(o).flatMap((x) =>
            x.kind === 'Namespace' ? [x.metadata.name] : [x.metadata.namespace],
          ),
        );
        expect(spaces.size).toBe(1);
        return [...spaces][0];
      });
      expect(namespaces).toEqual([
        'dispatchbox-dev',
        'dispatchbox-staging',
        'dispatchbox',
        'dispatchbox-staging',
      ]);
      const image = (o: string) =>
        workerDeployments(o)[0]!.spec!.template.spec!.containers[0]!.image;
      expect(image('dev')).toBe('localhost/dispatchbox:dev');
      expect(image('prod')).toMatch(/^registry\.example\.com\/.+:\d+\.\d+\.\d+$/);
    });

    it('prod: an autoscaler owns the replicas, workers spread over nodes, no Secret in git', () => {
      const [hpa] = find<IHorizontalPodAutoscaler>(objects('prod'), 'HorizontalPodAutoscaler');
      const [deployment] = workerDeployments('prod');
      expect(hpa?.spec?.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name: deployment!.metadata!.name,
      });
      expect(hpa?.spec?.minReplicas).toBeGreaterThanOrEqual(3);
      expect(deployment!.spec!.replicas).toBeUndefined();
      const terms =
        deployment!.spec!.template.spec!.affinity?.podAntiAffinity
          ?.preferredDuringSchedulingIgnoredDuringExecution;
      expect(terms?.map((t) => t.podAffinityTerm.topologyKey)).toContain('kubernetes.io/hostname');
      expect(find(objects('prod'), 'Secret')).toEqual([]);
      expect(find(objects('staging'), 'HorizontalPodAutoscaler')).toEqual([]);
    });

    it('per-domain: one Deployment per domain, each claiming only its domain', () => {
      const deployments = workerDeployments('per-domain');
      const byDomain = deployments.map((d) => {
        const domain = d.spec!.template.metadata!.labels!['dispatchbox.dev/domain'];
        const env = d.spec!.template.spec!.containers[0]!.env ?? [];
        expect(env.find((e) => e.name === 'DISPATCHBOX_DOMAINS')?.value).toBe(domain);
        expect(d.spec!.selector.matchLabels!['dispatchbox.dev/domain']).toBe(domain);
        return [d.metadata!.name, d.spec!.replicas];
      });
      expect(byDomain).toEqual([
        ['dispatchbox-worker-billing', 1],
        ['dispatchbox-worker-orders', 4],
      ]);
    });
  },
);
