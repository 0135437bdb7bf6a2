// The rclnodejs-facing shell of `luxcert ros`. It is type-checked against rclnodejs's own
// declarations by `npm run typecheck:ros` (tsconfig.ros.json) and loaded only by `luxcert ros`.
import type * as Rcl from 'rclnodejs';
import { LuxcertError } from '../../core/errors.ts';
import type { RgbImage } from '../../data/image.ts';
import { log } from '../../core/logger.ts';
import { loadBundle } from '../../export/bundle.ts';
import { readPublicKey } from '../../export/signing.ts';
import { Runtime } from '../../runtime/runtime.ts';
import { DiagnosticsAggregator, diagnosticsMessage } from '../diagnostics.ts';
import { imageFromCompressed, imageFromMsg, type RawImageMsg } from '../image-convert.ts';
import { LatestFrameQueue } from '../latest-frame-queue.ts';
import { annotationsMessage, keypointsMessage, type CertifiedRegion, type Header, type StreamContext } from '../messages.ts';
import { checkParam, NODE_PARAMS, nodeSettings, PARAMETER_TYPES, type NodeSettings, type ParamName } from '../node-params.ts';
import { OUTPUT_CHANNELS } from '../outputs.ts';
import { detectionBoxes, RegionSelector } from '../roi.ts';
import { renderAnnotated } from '../render-annotated.ts';

/** rcl_lifecycle's transition callback results. */
const SUCCESS = 97 as Rcl.lifecycle.CallbackReturnCode;
const FAILURE = 98 as Rcl.lifecycle.CallbackReturnCode;

const nanos = (t: { sec: number; nanosec: number }) => BigInt(t.sec) * 1_000_000_000n + BigInt(t.nanosec);

/** Runs the luxcert lifecycle node until SIGINT/SIGTERM; `argv` holds the ROS arguments. */
export async function runNode(argv: string[]): Promise<void> {
  const rcl = ((await import('rclnodejs')) as unknown as { default: typeof Rcl }).default;
  await rcl.init(undefined, argv);
  const node = new rcl.lifecycle.LifecycleNode('luxcert', '', undefined, undefined, true);
  for (const [name, s] of Object.entries(NODE_PARAMS)) {
    const type = PARAMETER_TYPES[s.type] as Rcl.ParameterType;
    const range = 'range' in s && s.range ? (s.type === 'integer' ? new rcl.IntegerRange(BigInt(s.range[0]), BigInt(s.range[1])) : new rcl.FloatingPointRange(s.range[0], s.range[1])) : undefined;
    const value = s.type === 'integer' ? BigInt(s.default as number) : s.default;
    node.declareParameter(new rcl.Parameter(name, type, value), new rcl.ParameterDescriptor(name, type, s.description, false, range));
  }
  const read = (): NodeSettings => nodeSettings(Object.fromEntries(Object.keys(NODE_PARAMS).map((k) => [k, node.getParameter(k).value])) as Partial<Record<ParamName, unknown>>);

  const diagnostics = new DiagnosticsAggregator();
  const diagPub = node.createPublisher('diagnostic_msgs/msg/DiagnosticArray', OUTPUT_CHANNELS.diagnostics.topic);
  let provider = 'none';
  let settings: NodeSettings | undefined;
  let runtime: Promise<Runtime> | undefined;
  let ctx: Omit<StreamContext, 'frameId'> | undefined;
  let queue: LatestFrameQueue | undefined;
  let loop: Promise<void> | undefined;
  let subscriptions: Rcl.Subscription[] = [];
  const kpPub = node.createLifecyclePublisher('luxcert_msgs/msg/CertifiedKeypoints', 'keypoints');
  const annPub = node.createLifecyclePublisher('foxglove_msgs/msg/ImageAnnotations', 'annotations');
  const imgPub = node.createLifecyclePublisher('sensor_msgs/msg/Image', 'annotated_image');
  const headers = new WeakMap<object, Header>();

  node.addOnSetParametersCallback((params) => {
    for (const p of params) {
      const reason = checkParam(p.name, p.value);
      if (reason) return { successful: false, reason };
      const dynamic = 'dynamic' in NODE_PARAMS[p.name as ParamName] && (NODE_PARAMS[p.name as ParamName] as { dynamic?: boolean }).dynamic;
      if (loop && !dynamic) return { successful: false, reason: `${p.name} takes effect at configure: deactivate and clean up the node first` };
    }
    for (const p of params) {
      if (p.name === 'budget_ms') void runtime?.then((r) => r.setBudget(Number(p.value) > 0 ? Number(p.value) : r.bundle.manifest.search.budgetMs));
      const t = diagnostics.thresholds;
      if (p.name === 'diagnostics_min_fps') t.minFps = Number(p.value);
      if (p.name === 'diagnostics_max_p99_ms') t.maxP99Ms = Number(p.value);
      if (p.name === 'diagnostics_min_certified_share') t.minCertifiedShare = Number(p.value);
      if (p.name === 'diagnostics_stale_after_s') t.staleAfterS = Number(p.value);
    }
    return { successful: true, reason: '' };
  });

  node.registerOnConfigure(() => {
    try {
      settings = read();
      Object.assign(diagnostics.thresholds, settings.thresholds);
      const bundle = loadBundle(settings.bundle, settings.trustKeys.length > 0 ? { trust: settings.trustKeys.map(readPublicKey) } : {});
      const m = bundle.manifest;
      ctx = { meta: m.meta, modelName: settings.bundle.split('/').filter(Boolean).pop() ?? 'bundle', modelSha256: m.files.model.sha256, maxBox: m.maxBox, tolerance: m.tolerance };
      runtime = Runtime.open(bundle, { providers: settings.providers, gpu: settings.gpu, ...(settings.threads ? { threads: settings.threads } : {}), ...(settings.budgetMs ? { budgetMs: settings.budgetMs } : {}) });
      runtime.then((r) => (provider = r.provider), (e: Error) => diagnostics.setFatal(`onnxruntime could not open the bundle: ${e.message.split('\n')[0]}`));
      diagnostics.setFatal(undefined);
      log.info({ bundle: settings.bundle, signedBy: bundle.signedBy }, 'bundle loaded');
      return SUCCESS;
    } catch (e) {
      const msg = e instanceof LuxcertError ? e.message : `internal error: ${(e as Error).message}`;
      diagnostics.setFatal(msg);
      log.error(msg);
      return FAILURE;
    }
  });

  node.registerOnActivate(() => {
    const s = settings!;
    const q = new LatestFrameQueue();
    queue = q;
    const selector = new RegionSelector({ mode: s.roiMode, fixed: s.roi, cropPadding: ctx!.meta.cropPadding, stampToleranceNs: BigInt(Math.round(s.detectionStampToleranceMs * 1e6)) });
    const qos = new rcl.QoS(rcl.QoS.HistoryPolicy.RMW_QOS_POLICY_HISTORY_KEEP_LAST, 1, s.reliability === 'reliable' ? rcl.QoS.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_RELIABLE : rcl.QoS.ReliabilityPolicy.RMW_QOS_POLICY_RELIABILITY_BEST_EFFORT, rcl.QoS.DurabilityPolicy.RMW_QOS_POLICY_DURABILITY_VOLATILE);
    let id = 0;
    const offer = (header: Header, decode: () => Promise<RgbImage>) => {
      const frame = { id: id++, source: s.imageTopic, timestamp: Number(nanos(header.stamp) / 1_000_000n) };
      decode().then((image) => {
        const decoded = { ...frame, image };
        headers.set(decoded, header);
        q.push(decoded);
      }, (e: Error) => {
        diagnostics.record({ frame: frame.id, source: frame.source, timestamp: frame.timestamp, ok: false, error: e.message }, performance.now());
        log.warn({ error: e.message }, 'image refused');
      });
    };
    subscriptions = [
      s.compressed
        ? node.createSubscription('sensor_msgs/msg/CompressedImage', `${s.imageTopic}/compressed`, { qos }, (m: unknown) => {
            const msg = m as unknown as { header: Header; format: string; data: Uint8Array };
            offer(msg.header, () => imageFromCompressed(msg));
          })
        : node.createSubscription('sensor_msgs/msg/Image', s.imageTopic, { qos }, (m: unknown) => {
            const msg = m as unknown as RawImageMsg & { header: Header };
            offer(msg.header, async () => imageFromMsg(msg));
          }),
      ...(s.roiMode === 'detections'
        ? [node.createSubscription('vision_msgs/msg/Detection2DArray', s.detectionsTopic, (m) => {
            const msg = m as unknown as { header: Header; detections: Parameters<typeof detectionBoxes>[0]['detections'] };
            selector.addDetections(nanos(msg.header.stamp), detectionBoxes(msg));
          })]
        : []),
    ];
    loop = (async () => {
      const rt = await runtime!;
      for await (const f of q) {
        const header = headers.get(f)!;
        const regions: CertifiedRegion[] = [];
        for (const [i, { win, source }] of selector.regions(f.image!, nanos(header.stamp)).entries()) {
          try {
            regions.push({ result: await rt.processFrame(f.image!, win, `region ${i}`), win, source });
          } catch (e) {
            if (!(e instanceof LuxcertError)) throw e;
            log.warn({ source, error: e.message }, 'region skipped');
          }
        }
        const k = keypointsMessage(header.stamp, { ...ctx!, frameId: header.frame_id }, regions);
        selector.observe(k.objects[0]?.keypoints.map((p) => [p.x, p.y] as [number, number]));
        const first = regions[0]?.result;
        diagnostics.record(first ? { frame: f.id, source: f.source, timestamp: f.timestamp, ok: true, ...first } : { frame: f.id, source: f.source, timestamp: f.timestamp, ok: false, error: 'no region certified' }, performance.now());
        diagnostics.setDropped(q.dropped);
        kpPub.publish(k);
        annPub.publish(annotationsMessage(k));
        if (s.publishAnnotatedImage) imgPub.publish((await renderAnnotated(f.image!, k, header)));
      }
    })().catch((e: Error) => {
      diagnostics.setFatal(`processing stopped: ${e.message}`);
      log.error({ error: e.message }, 'processing stopped');
    });
    kpPub.activate();
    annPub.activate();
    imgPub.activate();
    return SUCCESS;
  });

  const stopProcessing = () => {
    for (const sub of subscriptions) node.destroySubscription(sub);
    subscriptions = [];
    queue?.close();
    queue = undefined;
    loop = undefined;
    kpPub.deactivate();
    annPub.deactivate();
    imgPub.deactivate();
  };
  node.registerOnDeactivate(() => (stopProcessing(), SUCCESS));
  node.registerOnCleanup(() => {
    void runtime?.then((r) => r.release(), () => undefined);
    runtime = undefined;
    settings = undefined;
    return SUCCESS;
  });
  node.registerOnShutdown(() => (stopProcessing(), SUCCESS));

  const timer = node.createTimer(1_000_000_000n, () => {
    const now = Date.now();
    diagPub.publish(diagnosticsMessage({ stamp: { sec: Math.floor(now / 1000), nanosec: (now % 1000) * 1_000_000 }, frame_id: '' }, diagnostics.status(performance.now(), provider)));
  });

  let autostart = true;
  try {
    autostart = read().autostart;
  } catch (e) {
    diagnostics.setFatal((e as Error).message);
    log.error((e as Error).message);
  }
  // lifecycle_msgs/State: 2 is INACTIVE, where a successful configure lands.
  if (autostart && node.configure().asMessage().id === 2) node.activate();
  node.spin();

  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      log.info({ signal }, 'shutting down');
      stopProcessing();
      node.destroyTimer(timer);
      void runtime?.then((r) => r.release(), () => undefined);
      node.destroy();
      rcl.shutdown();
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
