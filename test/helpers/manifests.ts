import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

/**
 * Renders the kustomize overlays of deploy/kubernetes with `kubectl kustomize` and checks
 * every object against the Kubernetes API schemas of kubernetes-models 4.5 (Kubernetes
 * v1.33.0): types, required fields and enumerations of every field it knows.
 */
export const KUBERNETES_SCHEMA_VERSION = 'v1.33.0';

/**
 * The stable API versions a v1.33 API server serves. kubernetes-models also keeps the models
 * of APIs removed since (extensions/v1beta1, apps/v1beta2, …) for old clusters; objects of
 * those would be refused by the cluster, so they are refused here.
 */
const SERVED_API_VERSIONS = new Set([
  'v1',
  'apps/v1',
  'batch/v1',
  'policy/v1',
  'autoscaling/v1',
  'autoscaling/v2',
  'networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1',
  'storage.k8s.io/v1',
  'scheduling.k8s.io/v1',
  'coordination.k8s.io/v1',
  'discovery.k8s.io/v1',
  'node.k8s.io/v1',
  'certificates.k8s.io/v1',
  'admissionregistration.k8s.io/v1',
  'apiextensions.k8s.io/v1',
  'events.k8s.io/v1',
  'flowcontrol.apiserver.k8s.io/v1',
]);

const run = promisify(execFile);
export const KUBERNETES_DIR = path.resolve('deploy/kubernetes');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

export function overlays(): string[] {
  return readdirSync(path.join(KUBERNETES_DIR, 'overlays')).sort();
}

/** Whether `kubectl` (with its built-in kustomize) runs here; CI needs it. */
export async function requireKubectl(): Promise<boolean> {
  try {
    await run('kubectl', ['version', '--client']);
    return true;
  } catch {
    if (process.env.CI)
      throw new Error('kubectl is not on PATH, and CI needs it to render deploy/');
    console.warn('\n*** kubectl is not on PATH: the Kubernetes manifests were NOT checked ***\n');
    return false;
  }
}

export async function render(overlay: string): Promise<KubeObject[]> {
  return renderDirectory(path.join(KUBERNETES_DIR, 'overlays', overlay));
}

/** Renders the kustomization in `dir` (an overlay made by a test, for one). */
export async function renderDirectory(dir: string): Promise<KubeObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 16 << 20 });
  return parseAllDocuments(stdout).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${dir}: ${doc.errors[0]?.message}`);
    return doc.toJS() as KubeObject;
  });
}

/** The schema errors of one object, as `Kind/name: message`; none when it is valid. */
export async function schemaErrors(object: KubeObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name ?? '(no name)'}`;
  if (!SERVED_API_VERSIONS.has(object.apiVersion)) {
    return [`${where}: Kubernetes ${KUBERNETES_SCHEMA_VERSION} serves no API ${object.apiVersion}`];
  }
  let models: Record<string, unknown>;
  try {
    models = (await import(`kubernetes-models/${object.apiVersion}`)) as Record<string, unknown>;
  } catch {
    return [`${where}: no API ${object.apiVersion} in Kubernetes ${KUBERNETES_SCHEMA_VERSION}`];
  }
  const Model = models[object.kind] as (new (o: unknown) => { validate(): void }) | undefined;
  if (typeof Model !== 'function') {
    return [`${where}: no kind ${object.kind} in ${object.apiVersion}`];
  }
  try {
    new Model(object).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}

export function find<T = KubeObject>(objects: KubeObject[], kind: string, name?: string): T[] {
  return objects.filter(
    (o) => o.kind === kind && (name === undefined || o.metadata.name === name),
  ) as T[];
}
