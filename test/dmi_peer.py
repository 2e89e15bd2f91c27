#!/usr/bin/python3
"""A DMI peer built from dmi/api.proto alone, with another gRPC stack (Debian's python3-grpcio).

Stubs are generated into STUBS (a temp dir) by test/dmi-interop.test.ts with
`/usr/bin/python3 -m grpc_tools.protoc`. Two roles, each replaying KubeEdge's call sequence
(docs/dmi.md "The calls in time") and printing one JSON object per line for the test to check:

  mapper   -- a mapper-framework mapper against edgetwin's DeviceManagerService: MapperRegister
              (withData, 1 s deadline), ReportDeviceStatus with one twin per call, ReportDeviceStates;
              then bad messages; then it serves DeviceMapperService and prints every call it gets.
  edgecore -- edgecore against edgetwin's DMI mapper: serves DeviceManagerService (answers
              MapperRegister with a Device and its model, packed as edgecore packs them), waits for
              reports, then calls CreateDeviceModel/RegisterDevice and UpdateDeviceModel/UpdateDevice
              with a new desired value, then bad messages and GetDevice.
"""

import os
import argparse
import json
import queue
import sys
import threading
import time
from concurrent import futures

# mapper-framework's own deadline is 1 s (pkg/grpcclient/register.go); a loaded CI machine
# can take longer than that just to schedule the call, so tests may widen it (EDGETWIN_DMI_DEADLINE).
DEADLINE = float(os.environ.get('EDGETWIN_DMI_DEADLINE', '1.0'))

parser = argparse.ArgumentParser()
parser.add_argument("role", choices=["mapper", "edgecore"])
parser.add_argument("--stubs", required=True)
parser.add_argument("--edge", required=True, help="edgecore's (or edgetwin's) DMI socket")
parser.add_argument("--mapper", required=True, help="the mapper's socket")
parser.add_argument("--protocol", default="modbus")
parser.add_argument("--modbus-port", type=int, default=0)
parser.add_argument("--setpoint", default="24.5")
args = parser.parse_args()
sys.path.insert(0, args.stubs)

import grpc  # noqa: E402
from google.protobuf import any_pb2, wrappers_pb2  # noqa: E402
import api_pb2 as pb  # noqa: E402
import api_pb2_grpc as rpc  # noqa: E402


EMIT_LOCK = threading.Lock()


def emit(**event):
    # gRPC handlers run on a thread pool: one write per event, under a lock, so two events never
    # share a line (print() writes the text and the newline separately).
    line = json.dumps(event) + "\n"
    with EMIT_LOCK:
        sys.stdout.write(line)
        sys.stdout.flush()


WRAPPERS = {
    "StringValue": wrappers_pb2.StringValue,
    "FloatValue": wrappers_pb2.FloatValue,
    "DoubleValue": wrappers_pb2.DoubleValue,
    "Int32Value": wrappers_pb2.Int32Value,
    "Int64Value": wrappers_pb2.Int64Value,
    "BoolValue": wrappers_pb2.BoolValue,
}


def unpack(a):
    """[wrapper name, value], as mapper-framework's DecodeAnyValue reads an Any."""
    name = a.type_url.rsplit("/", 1)[-1].replace("google.protobuf.", "")
    cls = WRAPPERS.get(name)
    if cls is None:
        return [name, None]
    w = cls()
    a.Unpack(w)
    return [name, w.value]


def pack(value):
    """As edgecore's dataToAny: strings, float32 numbers, booleans."""
    a = any_pb2.Any()
    if isinstance(value, bool):
        a.Pack(wrappers_pb2.BoolValue(value=value))
    elif isinstance(value, (int, float)):
        a.Pack(wrappers_pb2.FloatValue(value=value))
    else:
        a.Pack(wrappers_pb2.StringValue(value=value))
    return a


def config(cv):
    return {k: unpack(v) for k, v in cv.data.items()}


def device_json(d):
    return {
        "name": d.name,
        "namespace": d.namespace,
        "model": d.spec.deviceModelReference,
        "protocol": d.spec.protocol.protocolName,
        "config": config(d.spec.protocol.configData),
        "has": {
            "spec": d.HasField("spec"),
            "protocol": d.spec.HasField("protocol"),
            "desired": all(p.HasField("desired") for p in d.spec.properties),
            "visitors": all(p.HasField("visitors") and p.visitors.HasField("configData") for p in d.spec.properties),
        },
        "properties": [
            {
                "name": p.name,
                "desired": p.desired.value,
                "visitors": config(p.visitors.configData),
                "collectCycle": p.collectCycle,
                "reportToCloud": p.reportToCloud,
            }
            for p in d.spec.properties
        ],
        "status": {"reportToCloud": d.status.reportToCloud, "reportCycle": d.status.reportCycle},
    }


def status_of(err):
    return {"code": err.code().name, "details": err.details()}


def twin(prop, reported, observed=""):
    md = {"type": "", "timestamp": ""}
    return pb.Twin(propertyName=prop, reported=pb.TwinProperty(value=reported, metadata=md), observedDesired=pb.TwinProperty(value=observed, metadata=md))


# ---- mapper-framework against edgetwin ---------------------------------------------------------

class RecordingMapper(rpc.DeviceMapperServiceServicer):
    def _record(self, method, request):
        body = {}
        if hasattr(request, "device") and request.HasField("device"):
            body["device"] = device_json(request.device)
        if hasattr(request, "model") and request.HasField("model"):
            body["model"] = {"name": request.model.name, "namespace": request.model.namespace, "properties": [[p.name, p.type, p.accessMode] for p in request.model.spec.properties]}
        if hasattr(request, "deviceName"):
            body["deviceName"] = request.deviceName
        emit(event="call", method=method, **body)

    def RegisterDevice(self, request, context):
        self._record("RegisterDevice", request)
        return pb.RegisterDeviceResponse(deviceName=request.device.name)

    def UpdateDevice(self, request, context):
        self._record("UpdateDevice", request)
        return pb.UpdateDeviceResponse()

    def RemoveDevice(self, request, context):
        self._record("RemoveDevice", request)
        return pb.RemoveDeviceResponse()

    def CreateDeviceModel(self, request, context):
        self._record("CreateDeviceModel", request)
        return pb.CreateDeviceModelResponse(deviceModelName=request.model.name)

    def UpdateDeviceModel(self, request, context):
        self._record("UpdateDeviceModel", request)
        return pb.UpdateDeviceModelResponse()

    def RemoveDeviceModel(self, request, context):
        self._record("RemoveDeviceModel", request)
        return pb.RemoveDeviceModelResponse()

    def GetDevice(self, request, context):
        self._record("GetDevice", request)
        context.abort(grpc.StatusCode.UNKNOWN, "device not found")


def run_mapper():
    # The mapper's own server: mapper-framework starts it after registering; so does this one.
    channel = grpc.insecure_channel("unix://" + args.edge)
    manager = rpc.DeviceManagerServiceStub(channel)
    info = pb.MapperInfo(name="Modbus-mapper", version="v1.13.0", api_version="v1.0.0", protocol=args.protocol, address=args.mapper.encode("utf-8"), state="ok")
    started = time.monotonic()
    res = manager.MapperRegister(pb.MapperRegisterRequest(withData=True, mapper=info), timeout=DEADLINE)
    emit(event="registered", seconds=time.monotonic() - started, devices=[device_json(d) for d in res.deviceList],
         models=[{"name": m.name, "namespace": m.namespace, "properties": [[p.name, p.type, p.accessMode, p.minimum, p.maximum] for p in m.spec.properties]} for m in res.modelList])

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_DeviceMapperServiceServicer_to_server(RecordingMapper(), server)
    server.add_insecure_port("unix://" + args.mapper)
    server.start()

    # DevStart: one ReportDeviceStatus per reportToCloud property, then ReportDeviceStates.
    for d in res.deviceList:
        for p in d.spec.properties:
            if not p.reportToCloud:
                continue
            value = {"temperature": "22.5", "setpoint": p.desired.value or "20"}.get(p.name, "0")
            manager.ReportDeviceStatus(pb.ReportDeviceStatusRequest(deviceName=d.name, deviceNamespace=d.namespace, reportedDevice=pb.DeviceStatus(twins=[twin(p.name, value, p.desired.value)])), timeout=DEADLINE)
            emit(event="reported", device=d.name, property=p.name, value=value)
        if d.status.reportToCloud:
            manager.ReportDeviceStates(pb.ReportDeviceStatesRequest(deviceName=d.name, deviceNamespace=d.namespace, state="ok"), timeout=DEADLINE)
            emit(event="states", device=d.name, state="ok")

    first = res.deviceList[0]
    bad = {
        "unknown device": lambda: manager.ReportDeviceStatus(pb.ReportDeviceStatusRequest(deviceName="nope", deviceNamespace="default", reportedDevice=pb.DeviceStatus(twins=[twin("temperature", "1")])), timeout=DEADLINE),
        "bad value": lambda: manager.ReportDeviceStatus(pb.ReportDeviceStatusRequest(deviceName=first.name, deviceNamespace=first.namespace, reportedDevice=pb.DeviceStatus(twins=[twin("temperature", "hot")])), timeout=DEADLINE),
        "no twins": lambda: manager.ReportDeviceStatus(pb.ReportDeviceStatusRequest(deviceName=first.name, deviceNamespace=first.namespace, reportedDevice=pb.DeviceStatus()), timeout=DEADLINE),
        "twin without reported": lambda: manager.ReportDeviceStatus(pb.ReportDeviceStatusRequest(deviceName=first.name, deviceNamespace=first.namespace, reportedDevice=pb.DeviceStatus(twins=[pb.Twin(propertyName="temperature")])), timeout=DEADLINE),
        "unknown state": lambda: manager.ReportDeviceStates(pb.ReportDeviceStatesRequest(deviceName=first.name, deviceNamespace=first.namespace, state="sleepy"), timeout=DEADLINE),
        "empty protocol": lambda: manager.MapperRegister(pb.MapperRegisterRequest(withData=True, mapper=pb.MapperInfo(name="x", address=b"/tmp/x.sock")), timeout=DEADLINE),
        "no mapper": lambda: manager.MapperRegister(pb.MapperRegisterRequest(withData=True), timeout=DEADLINE),
    }
    for case, call in bad.items():
        try:
            call()
            emit(event="bad", case=case, code="OK", details="")
        except grpc.RpcError as err:
            emit(event="bad", case=case, **status_of(err))
    emit(event="serving")
    threading.Event().wait()


# ---- edgecore against edgetwin's mapper ---------------------------------------------------------

def thermostat_model(namespace):
    props = [
        pb.ModelProperty(name="temperature", type="FLOAT", accessMode="ReadOnly", minimum="-40", maximum="125", unit="Celsius"),
        pb.ModelProperty(name="setpoint", type="FLOAT", accessMode="ReadWrite", minimum="5", maximum="35", unit="Celsius"),
    ]
    return pb.DeviceModel(name="thermostat", namespace=namespace, spec=pb.DeviceModelSpec(properties=props))


def thermostat(name, setpoint, model="thermostat", protocol=None, config_override=None):
    """A Device as edgecore's ConvertDevice makes it: every number a FloatValue, port a string."""
    protocol = protocol or args.protocol
    proto_cfg = {"communicateMode": "TCP", "ip": "127.0.0.1", "port": str(args.modbus_port), "slaveID": 1}
    if config_override:
        proto_cfg.update(config_override)

    def visitor(register, offset):
        cfg = {"register": register, "offset": offset, "limit": 2, "dataType": "float", "scale": 1, "isSwap": False, "isRegisterSwap": False}
        return pb.VisitorConfig(protocolName=protocol, configData=pb.CustomizedValue(data={k: pack(v) for k, v in cfg.items()}))

    props = [
        pb.DeviceProperty(name="temperature", desired=pb.TwinProperty(value=""), visitors=visitor("InputRegister", 0), collectCycle=500, reportToCloud=True),
        pb.DeviceProperty(name="setpoint", desired=pb.TwinProperty(value=setpoint), visitors=visitor("HoldingRegister", 0), collectCycle=500, reportToCloud=True),
    ]
    cfg = pb.CustomizedValue(data={k: (v if isinstance(v, any_pb2.Any) else pack(v)) for k, v in proto_cfg.items()})
    spec = pb.DeviceSpec(deviceModelReference=model, protocol=pb.ProtocolConfig(protocolName=protocol, configData=cfg), properties=props)
    return pb.Device(name=name, namespace="default", spec=spec, status=pb.DeviceStatus(reportToCloud=True, reportCycle=500))


class Edgecore(rpc.DeviceManagerServiceServicer):
    def __init__(self):
        self.registered = queue.Queue()
        self.reports = queue.Queue()

    def MapperRegister(self, request, context):
        m = request.mapper
        emit(event="register", withData=request.withData, name=m.name, version=m.version, api_version=m.api_version, protocol=m.protocol, address=m.address.decode("utf-8"), state=m.state)
        self.registered.put(m.address.decode("utf-8"))
        return pb.MapperRegisterResponse(modelList=[thermostat_model("default")], deviceList=[thermostat("t1", "21")])

    def ReportDeviceStatus(self, request, context):
        twins = [{"property": t.propertyName, "reported": t.reported.value, "observedDesired": t.observedDesired.value,
                  "metadata": dict(t.reported.metadata), "has": [t.HasField("reported"), t.HasField("observedDesired")]} for t in request.reportedDevice.twins]
        self.reports.put((request.deviceName, twins))
        return pb.ReportDeviceStatusResponse()

    def ReportDeviceStates(self, request, context):
        emit(event="states", device=request.deviceName, namespace=request.deviceNamespace, state=request.state)
        return pb.ReportDeviceStatesResponse()


def wait_report(edge, match, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            device, twins = edge.reports.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if match(device, twins):
            return device, twins
    raise SystemExit(json.dumps({"event": "error", "message": "no matching report"}))


def run_edgecore():
    edge = Edgecore()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    rpc.add_DeviceManagerServiceServicer_to_server(edge, server)
    server.add_insecure_port("unix://" + args.edge)
    server.start()
    emit(event="listening")
    address = edge.registered.get(timeout=60)
    device, twins = wait_report(edge, lambda d, t: d == "t1" and any(x["property"] == "temperature" for x in t))
    emit(event="status", device=device, twins=twins)

    mapper = rpc.DeviceMapperServiceStub(grpc.insecure_channel("unix://" + address))
    # A Device added in the cloud: its model first, then the Device (cloudcore's order).
    mapper.CreateDeviceModel(pb.CreateDeviceModelRequest(model=thermostat_model("default")), timeout=10)
    r = mapper.RegisterDevice(pb.RegisterDeviceRequest(device=thermostat("t2", "")), timeout=10)
    emit(event="registered-device", deviceName=r.deviceName)
    # A desired value changed in the cloud: UpdateDeviceModel always, then the whole Device.
    mapper.UpdateDeviceModel(pb.UpdateDeviceModelRequest(model=thermostat_model("default")), timeout=10)
    mapper.UpdateDevice(pb.UpdateDeviceRequest(device=thermostat("t1", args.setpoint)), timeout=10)
    emit(event="updated", setpoint=args.setpoint)
    device, twins = wait_report(edge, lambda d, t: d == "t1" and any(x["property"] == "setpoint" and x["observedDesired"] == args.setpoint and x["reported"] == args.setpoint for x in t))
    emit(event="status", device=device, twins=twins)

    garbled = any_pb2.Any(type_url="type.googleapis.com/google.protobuf.StringValue", value=b"\x0a\x05ab")
    unknown_type = any_pb2.Any(type_url="type.googleapis.com/google.protobuf.Timestamp", value=b"")
    bad = {
        "unknown protocol": lambda: mapper.RegisterDevice(pb.RegisterDeviceRequest(device=thermostat("t3", "", protocol="zigbee")), timeout=10),
        "device without a model": lambda: mapper.RegisterDevice(pb.RegisterDeviceRequest(device=thermostat("t4", "", model="nope")), timeout=10),
        "malformed Any": lambda: mapper.RegisterDevice(pb.RegisterDeviceRequest(device=thermostat("t5", "", config_override={"port": garbled})), timeout=10),
        "Any of an unknown type": lambda: mapper.UpdateDevice(pb.UpdateDeviceRequest(device=thermostat("t1", args.setpoint, config_override={"slaveID": unknown_type})), timeout=10),
        "no device": lambda: mapper.RegisterDevice(pb.RegisterDeviceRequest(), timeout=10),
        "remove unknown device": lambda: mapper.RemoveDevice(pb.RemoveDeviceRequest(deviceName="nope", deviceNamespace="default"), timeout=10),
        "update unknown model": lambda: mapper.UpdateDeviceModel(pb.UpdateDeviceModelRequest(model=pb.DeviceModel(name="nope", namespace="default", spec=pb.DeviceModelSpec())), timeout=10),
        "get unknown device": lambda: mapper.GetDevice(pb.GetDeviceRequest(deviceName="t4", deviceNamespace="default"), timeout=10),
    }
    for case, call in bad.items():
        try:
            call()
            emit(event="bad", case=case, code="OK", details="")
        except grpc.RpcError as err:
            emit(event="bad", case=case, **status_of(err))
    got = mapper.GetDevice(pb.GetDeviceRequest(deviceName="t1", deviceNamespace="default"), timeout=10)
    emit(event="get", device=got.device.name, twins=[{"property": t.propertyName, "reported": t.reported.value, "observedDesired": t.observedDesired.value} for t in got.device.status.twins])
    # After the bad messages, t1 still runs with its desired value.
    device, twins = wait_report(edge, lambda d, t: d == "t1" and any(x["property"] == "setpoint" for x in t))
    emit(event="status", device=device, twins=twins)
    emit(event="done")
    threading.Event().wait()


if args.role == "mapper":
    run_mapper()
else:
    run_edgecore()
