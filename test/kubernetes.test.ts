// deploy/kubernetes (a kustomize base) validated against the Kubernetes API schemas
// (kubernetes-models), and checked for what the deployment promises: probes, a draining
// preStop on media servers, secrets only by reference, TLS at the Ingress, a public URL per
// media server. No cluster here: `kubectl kustomize` renders the base when kubectl exists,
// and the test assembles the kustomization's resources itself either way.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';

const base = fileURLToPath(new URL('../deploy/kubernetes/', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: manifests are checked by schema, then read loosely
type Manifest = { apiVersion: string; kind: string; metadata: { name: string }; spec?: any; data?: any };

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'networking.k8s.io/v1/Ingress': Ingress,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

function documents(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      assert.deepEqual(doc.errors, []);
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null);
}

/** The kustomization's resources, read as kustomize would (namespace set on each). */
function assemble(): Manifest[] {
  const kustomization = documents(readFileSync(join(base, 'kustomization.yaml'), 'utf8'))[0] as unknown as {
    namespace: string;
    resources: string[];
  };
  const yamlFiles = readdirSync(base).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
  assert.deepEqual([...kustomization.resources].sort(), yamlFiles.sort(), 'every manifest is a resource');
  return kustomization.resources.flatMap((file) => documents(readFileSync(join(base, file), 'utf8')));
}

function validate(manifests: Manifest[]): void {
  for (const manifest of manifests) {
    const Model = MODELS[`${manifest.apiVersion}/${manifest.kind}`];
    assert.ok(Model !== undefined, `no schema for ${manifest.apiVersion} ${manifest.kind}`);
    assert.doesNotThrow(
      () => new Model(manifest as never).validate(),
      `${manifest.kind}/${manifest.metadata.name}`,
    );
  }
}

const find = (manifests: Manifest[], kind: string, name: string): Manifest => {
  const found = manifests.find((m) => m.kind === kind && m.metadata.name === name);
  assert.ok(found !== undefined, `${kind}/${name} is missing`);
  return found;
};

test('every manifest of the kustomize base is valid against the Kubernetes schemas', () => {
  const manifests = assemble();
  assert.ok(manifests.length >= 10);
  validate(manifests);
  // The validator can fail: a port that is not a number is refused.
  const broken = structuredClone(find(manifests, 'StatefulSet', 'media'));
  broken.spec.template.spec.containers[0].ports[0].containerPort = 'ws';
  assert.throws(() => new StatefulSet(broken as never).validate(), /containerPort/);
});

test('kubectl kustomize renders the base into valid manifests (when kubectl is installed)', (t) => {
  const rendered = spawnSync('kubectl', ['kustomize', base], { encoding: 'utf8' });
  if (rendered.error !== undefined) {
    t.diagnostic('kubectl is not installed: the assembled resources were validated instead');
    return;
  }
  assert.equal(rendered.status, 0, rendered.stderr);
  const manifests = documents(rendered.stdout);
  validate(manifests);
  assert.equal(manifests.length, assemble().length);
  for (const manifest of manifests.filter((m) => m.kind !== 'Namespace'))
    assert.equal((manifest.metadata as { namespace?: string }).namespace, 'usher');
});

test("brokers: probes on /readyz and /healthz, a disruption budget, a Service and every broker in the media servers' list", () => {
  const manifests = assemble();
  const broker = find(manifests, 'StatefulSet', 'broker');
  const container = broker.spec.template.spec.containers[0];
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(find(manifests, 'PodDisruptionBudget', 'broker').spec.minAvailable, 1);
  find(manifests, 'Service', 'broker');
  const pods = find(manifests, 'Service', 'broker-pods');
  assert.equal(pods.spec.clusterIP, 'None');
  assert.equal(broker.spec.serviceName, 'broker-pods');
  const media = find(manifests, 'StatefulSet', 'media').spec.template.spec.containers[0];
  const brokers = String(media.args[media.args.indexOf('--broker') + 1]).split(',');
  assert.deepEqual(
    brokers,
    Array.from({ length: broker.spec.replicas }, (_, i) => `http://broker-${i}.broker-pods:8080`),
  );
});

test('media servers: a draining preStop, grace for it, and a public URL per pod routed by the Ingress', () => {
  const manifests = assemble();
  const media = find(manifests, 'StatefulSet', 'media');
  const pod = media.spec.template.spec;
  const container = pod.containers[0];
  assert.deepEqual(container.lifecycle.preStop.exec.command, ['node', 'deploy/prestop-drain.mjs']);
  const env = new Map<string, { value?: string }>(container.env.map((e: { name: string }) => [e.name, e]));
  const waits =
    Number(env.get('USHER_PRESTOP_WAIT_S')?.value) + Number(env.get('USHER_DRAIN_GRACE_MS')?.value) / 1000;
  assert.ok(pod.terminationGracePeriodSeconds > waits, 'the kubelet waits for the preStop and the drain');
  assert.equal(env.get('USHER_PUBLIC_URL')?.value, 'wss://$(PUBLIC_HOST)/m/$(USHER_MEDIA_ID)/v1/media');
  const ingress = find(manifests, 'Ingress', 'usher-media');
  const paths = ingress.spec.rules[0].http.paths as Array<{
    path: string;
    backend: { service: { name: string } };
  }>;
  for (let i = 0; i < media.spec.replicas; i += 1) {
    const name = `media-${i}`;
    const service = find(manifests, 'Service', name);
    assert.equal(service.spec.selector['statefulset.kubernetes.io/pod-name'], name);
    assert.ok(
      paths.some((p) => p.path === `/m/${name}/v1/media` && p.backend.service.name === name),
      name,
    );
  }
  assert.equal(find(manifests, 'PodDisruptionBudget', 'media').spec.maxUnavailable, 1);
});

test('secrets are referenced, never committed; TLS at the Ingress; Redis and coturn present', () => {
  const manifests = assemble();
  assert.equal(manifests.filter((m) => m.kind === 'Secret').length, 0);
  const text = JSON.stringify(manifests);
  const keys = new Set(
    [...text.matchAll(/"secretKeyRef":\{"name":"([^"]+)","key":"([^"]+)"\}/g)].map((m) => `${m[1]}/${m[2]}`),
  );
  assert.deepEqual([...keys].sort(), [
    'usher-secrets/admin-token',
    'usher-secrets/api-keys',
    'usher-secrets/metrics-token',
    'usher-secrets/secret',
    'usher-secrets/turn-secret',
  ]);
  for (const ingress of manifests.filter((m) => m.kind === 'Ingress'))
    assert.equal(ingress.spec.tls[0].secretName, 'usher-tls', ingress.metadata.name);
  find(manifests, 'Service', 'redis');
  const coturn = find(manifests, 'Deployment', 'coturn').spec.template.spec;
  assert.ok(coturn.containers[0].args.includes('--external-ip=$(TURN_EXTERNAL_IP)'));
  // Every workload runs as non-root with no privilege escalation.
  for (const workload of manifests.filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet')) {
    const spec = workload.spec.template.spec;
    assert.equal(spec.securityContext.runAsNonRoot, true, workload.metadata.name);
    for (const c of spec.containers) assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  }
});
