"""The TorchServe entry of a lorecast `.mar`: one class, the four seams, and nothing else.

TorchServe imports this file as the top-level module `handler` from the extracted archive, whose root is on
sys.path, so the package is imported absolutely. It must define exactly one class. All the work is in
serve_handler/service.py; this class turns TorchServe's rows into (body, content type) pairs, sets each
response's status and content type, and reports metrics.

Metrics (Prometheus names on /metrics with `model_metrics_auto_detect=true`): LorecastBatchSize (gauge,
requests per batch), LorecastCandidates (counter, candidates generated), LorecastRejected (counter, by
Reason), LorecastBadRequests (counter, requests answered 400), LorecastBatchSeconds and LorecastRankingSeconds
(counters: time in the handler's batches, and the part of it spent ranking, i.e. the selector's share).
"""

from __future__ import annotations

import os
from pathlib import Path

from ts.metrics.dimension import Dimension
from ts.metrics.metric_type_enum import MetricTypes
from ts.torch_handler.base_handler import BaseHandler

from serve_handler.device import choose_device
from serve_handler.request import RequestError
from serve_handler.service import GenerationService
from serve_handler.settings import HandlerSettings

_JSON = "application/json"
# TorchServe's worker reads this variable for every request it unpacks (ts/protocol/otf_message_handler.py). Off,
# every body reaches the handler as the raw bytes sent: one parse path whatever the Content-Type's spelling, where
# decoding would have hidden duplicate keys, padding and a JSON string holding an object, and would have logged a
# traceback for every malformed body (ops/TORCHSERVE.md, section 4).
_DECODE_SWITCH = "TS_DECODE_INPUT_REQUEST"


class LorecastHandler(BaseHandler):
    def initialize(self, context) -> None:
        os.environ[_DECODE_SWITCH] = "false"  # whatever the server's decode_input_request says
        properties = context.system_properties
        settings = HandlerSettings.from_section((context.model_yaml_config or {}).get("handler"))
        self.device, dtype = choose_device(properties.get("gpu_id"))
        self.service = GenerationService.load(Path(properties["model_dir"]), settings, self.device, dtype)
        self.initialized = True

    def preprocess(self, data):
        # A body TorchServe could not read as a form has no "body" key at all (ops/TORCHSERVE.md, section 4).
        return [(row.get("body"), self._content_type(index)) for index, row in enumerate(data)]

    def inference(self, data, *args, **kwargs):
        answers, stats = self.service.serve(data)
        self._report(stats)
        return answers

    def postprocess(self, data):
        responses = []
        for index, answer in enumerate(data):
            self.context.set_response_content_type(index, _JSON)
            if isinstance(answer, RequestError):
                self.context.set_response_status(400, "Bad Request", index)
                answer = {"error": str(answer)}
            responses.append(answer)
        return responses

    def _content_type(self, index: int) -> str | None:
        headers = self.context.get_all_request_header(index) or {}
        return next((value for name, value in headers.items() if name.lower() == "content-type"), None)

    def _report(self, stats) -> None:
        metrics = self.context.metrics
        metrics.add_metric("LorecastBatchSize", stats.batch_size, "count", metric_type=MetricTypes.GAUGE)
        metrics.add_counter("LorecastCandidates", stats.candidates)
        metrics.add_counter("LorecastBadRequests", stats.bad_requests)
        metrics.add_counter("LorecastBatchSeconds", stats.seconds)
        metrics.add_counter("LorecastRankingSeconds", stats.ranking_seconds)
        for reason, count in stats.rejected.items():
            metrics.add_counter("LorecastRejected", count, dimensions=[Dimension("Reason", reason)])
