#!/usr/bin/env node
// Lets onnxruntime's Node binding pass TensorRT provider options: the stock binding passes only the
// device id (js/node/src/session_options_helper.cc), so the engine cache and the workspace could
// not be set from JavaScript. After this edit, an executionProviders entry
//   { name: 'tensorrt', deviceId, trtOptions: { trt_engine_cache_enable: '1', … } }
// hands trtOptions (strings) to onnxruntime's UpdateTensorRTProviderOptions. install.sh runs it on
// the cloned source before building the binding. Usage: patch-onnxruntime-node.mjs FILE
// Refuses (exit 1, one line) unless the file has exactly one place to patch; patching twice is a no-op.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const MARK = '// luxcert: TensorRT provider options';
const ANCHOR = 'sessionOptions.AppendExecutionProvider_TensorRT_V2(*options);';
const INSERT = `${MARK} from the entry's trtOptions (string keys and values).
      if (epValue.IsObject() && epValue.As<Napi::Object>().Has("trtOptions")) {
        Napi::Value trtValue = epValue.As<Napi::Object>().Get("trtOptions");
        ORT_NAPI_THROW_TYPEERROR_IF(!trtValue.IsObject(), epList.Env(), "Invalid argument: trtOptions must be an object.");
        Napi::Object trt = trtValue.As<Napi::Object>();
        Napi::Array names = trt.GetPropertyNames();
        std::vector<std::string> keys;
        std::vector<std::string> values;
        for (uint32_t k = 0; k < names.Length(); k++) {
          Napi::Value key = names[k];
          Napi::Value value = trt.Get(key);
          ORT_NAPI_THROW_TYPEERROR_IF(!value.IsString(), epList.Env(), "Invalid argument: trtOptions values must be strings.");
          keys.push_back(key.As<Napi::String>().Utf8Value());
          values.push_back(value.As<Napi::String>().Utf8Value());
        }
        std::vector<const char*> keyPtrs;
        std::vector<const char*> valuePtrs;
        for (size_t k = 0; k < keys.size(); k++) {
          keyPtrs.push_back(keys[k].c_str());
          valuePtrs.push_back(values[k].c_str());
        }
        Ort::ThrowOnError(Ort::GetApi().UpdateTensorRTProviderOptions(options, keyPtrs.data(), valuePtrs.data(), keyPtrs.size()));
      }
      `;

/** The source with the TensorRT options passed through, or a reason it cannot be patched. */
export function patchSource(src) {
  if (src.includes(MARK)) return { src };
  const at = src.split(ANCHOR).length - 1;
  if (at !== 1) return { error: `expected one '${ANCHOR}', found ${at} (onnxruntime changed its Node binding: update deploy/jetson/patch-onnxruntime-node.mjs)` };
  if (!/Napi::Value epValue = epList\[i\];/.test(src)) return { error: 'the provider loop no longer names its entry epValue (update deploy/jetson/patch-onnxruntime-node.mjs)' };
  let out = src.replace(ANCHOR, `${INSERT}${ANCHOR}`);
  if (!/#include <vector>/.test(out)) out = out.replace('#include <napi.h>', '#include <napi.h>\n#include <string>\n#include <vector>');
  return { src: out };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: patch-onnxruntime-node.mjs js/node/src/session_options_helper.cc');
    process.exit(1);
  }
  const r = patchSource(readFileSync(file, 'utf8'));
  if (r.error) {
    console.error(`patch-onnxruntime-node: ${file}: ${r.error}`);
    process.exit(1);
  }
  writeFileSync(`${file}.luxcert-tmp`, r.src);
  renameSync(`${file}.luxcert-tmp`, file);
  console.log(`patch-onnxruntime-node: ${file}: TensorRT provider options pass through`);
}
