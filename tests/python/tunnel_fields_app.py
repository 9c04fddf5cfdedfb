"""An os-ken application (OpenFlow 1.3) that drives a flow-based tunnel port through its tunnel
fields; tests/e2e/tunnel_flows.rs runs it with osken-manager against the switch's br-int.

When the switch connects it installs two flows between the VM's port and a VXLAN port with
`remote_ip = "flow"` and `key = "flow"`:

- out (cookie 0x1): in_port=VM -> set_field tunnel_id=VNI (OXM TUNNEL_ID), set_field
  tun_ipv4_dst=REMOTE (Nicira extension NXM_NX_TUN_IPV4_DST, os-ken's nicira_ext), output:TUNNEL
- in (cookie 0x2): in_port=TUNNEL, tunnel_id=VNI, tun_ipv4_src=REMOTE (NXM_NX_TUN_IPV4_SRC)
  -> output:VM

then asks for the flow statistics every half second and writes what it installed and what the
last reply said, both decoded by os-ken and written the same way, to the JSON file STATS:
{"installed": [FLOW], "stats": [FLOW + packet_count, byte_count]}, FLOW = {"cookie", "priority",
"table_id", "match": [[field, value]] sorted, "actions": ["output:N" | "set_field:FIELD=VALUE"]}.

Configured by the environment: TUNNEL_APP_VM_PORT, TUNNEL_APP_TUNNEL_PORT, TUNNEL_APP_VNI,
TUNNEL_APP_REMOTE, TUNNEL_APP_STATS.
"""
import json
import os

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib import hub
from os_ken.ofproto import ofproto_v1_3

STATS_INTERVAL = 0.5


def describe_actions(actions, parser):
    """Each action as text: output:PORT or set_field:FIELD=VALUE (anything else by its class)."""
    described = []
    for action in actions:
        if isinstance(action, parser.OFPActionOutput):
            described.append("output:%d" % action.port)
        elif isinstance(action, parser.OFPActionSetField):
            described.append("set_field:%s=%s" % (action.key, action.value))
        else:
            described.append(type(action).__name__)
    return described


def describe(flow, parser):
    """A flow (flow_mod or flow stats entry) as the JSON object the test reads."""
    actions = []
    for instruction in flow.instructions:
        if isinstance(instruction, parser.OFPInstructionActions):
            actions.extend(describe_actions(instruction.actions, parser))
        else:
            actions.append(type(instruction).__name__)
    return {
        "cookie": flow.cookie,
        "priority": flow.priority,
        "table_id": flow.table_id,
        "match": sorted([field, str(value)] for field, value in flow.match.items()),
        "actions": actions,
    }


class TunnelFields(app_manager.OSKenApp):
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.vm_port = int(os.environ["TUNNEL_APP_VM_PORT"])
        self.tunnel_port = int(os.environ["TUNNEL_APP_TUNNEL_PORT"])
        self.vni = int(os.environ["TUNNEL_APP_VNI"])
        self.remote = os.environ["TUNNEL_APP_REMOTE"]
        self.stats_path = os.environ["TUNNEL_APP_STATS"]
        self.installed = []
        self.poller = None

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def switch_features(self, ev):
        datapath = ev.msg.datapath
        ofproto, parser = datapath.ofproto, datapath.ofproto_parser
        flows = [
            (
                0x1,
                parser.OFPMatch(in_port=self.vm_port),
                [
                    parser.OFPActionSetField(tunnel_id=self.vni),
                    parser.OFPActionSetField(tun_ipv4_dst=self.remote),
                    parser.OFPActionOutput(self.tunnel_port),
                ],
            ),
            (
                0x2,
                parser.OFPMatch(in_port=self.tunnel_port, tunnel_id=self.vni, tun_ipv4_src=self.remote),
                [parser.OFPActionOutput(self.vm_port)],
            ),
        ]
        self.installed = []
        for cookie, match, actions in flows:
            instructions = [parser.OFPInstructionActions(ofproto.OFPIT_APPLY_ACTIONS, actions)]
            mod = parser.OFPFlowMod(datapath=datapath, cookie=cookie, priority=10, match=match, instructions=instructions)
            datapath.send_msg(mod)
            self.installed.append(describe(mod, parser))
        datapath.send_msg(parser.OFPBarrierRequest(datapath))
        self.logger.info("installed %s", json.dumps(self.installed))
        if self.poller is None:
            self.poller = hub.spawn(self.poll, datapath)

    def poll(self, datapath):
        parser = datapath.ofproto_parser
        while True:
            datapath.send_msg(parser.OFPFlowStatsRequest(datapath, table_id=datapath.ofproto.OFPTT_ALL))
            hub.sleep(STATS_INTERVAL)

    @set_ev_cls(ofp_event.EventOFPFlowStatsReply, MAIN_DISPATCHER)
    def flow_stats(self, ev):
        parser = ev.msg.datapath.ofproto_parser
        stats = []
        for entry in ev.msg.body:
            flow = describe(entry, parser)
            flow.update(packet_count=entry.packet_count, byte_count=entry.byte_count)
            stats.append(flow)
        partial = self.stats_path + ".partial"
        with open(partial, "w") as f:
            json.dump({"installed": self.installed, "stats": stats}, f)
        os.replace(partial, self.stats_path)
