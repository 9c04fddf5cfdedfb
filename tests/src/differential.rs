//! The differential tests' pair of switches: a vswitchd and the OVS oracle
//! with the same ports (`net_null` vdevs without traffic on one side, dummy
//! ports on the other, the same OpenFlow port numbers and VLAN modes) and
//! the same rules, and the comparison of their traces of one packet in the
//! common form of [`crate::trace_diff`]: what leaves the switch (ports as a
//! multiset, each with its tags and changed fields) and the tables looked
//! up. Mismatches are collected, with both traces, and reported together by
//! [`DiffPair::finish`].
use std::path::PathBuf;

use crate::ovs_oracle::{OfVersion, OvsOracle, OvsPort, Trace};
use crate::switch_config::{PortSpec, SwitchConfig, BRIDGE};
use crate::trace_diff::{self, Delivery, Headers, OurTrace};
use crate::{TestDir, Vswitchd};

/// The OVS bridge's name.
const OVS_BRIDGE: &str = "br-diff";

/// A port of both switches: its name, OpenFlow port number and, for
/// NORMAL, its VLAN mode (an access port of `tag`, else a trunk of
/// `trunks`, all VLANs when empty).
#[derive(Debug, Clone, Copy)]
pub struct Port {
    pub name: &'static str,
    pub ofport: u32,
    pub tag: Option<u16>,
    pub trunks: &'static [u16],
}

/// Trunks of every VLAN, named and numbered as given.
pub fn ports(list: &[(&'static str, u32)]) -> Vec<Port> {
    list.iter().map(|&(name, ofport)| Port { name, ofport, tag: None, trunks: &[] }).collect()
}

/// The switch and the oracle with the same ports and rules.
pub struct DiffPair {
    pub switch: Vswitchd,
    pub ovs: OvsOracle,
    /// Leave OVS's outputs to its bridge port (LOCAL) out: the switch has
    /// no local port (configuration.md, "What is executed").
    pub skip_local: bool,
    mismatches: Vec<String>,
    compared: usize,
    /// Rules loaded so far.
    loaded: usize,
    /// Where the flows files go.
    switch_dir: PathBuf,
}

impl DiffPair {
    /// Starts both with `ports` and loads `flows` into both (see `load`).
    pub fn start(dir: &TestDir, ports: &[Port], version: OfVersion, flows: &[&str]) -> DiffPair {
        let mut config = SwitchConfig::new(dir);
        let mut ovs_ports = Vec::new();
        for (vdev, port) in ports.iter().enumerate() {
            let mut spec = PortSpec::dpdk(port.name, port.ofport, &format!("net_null{vdev},no-rx=1"));
            let mut ovs_port = OvsPort::new(port.name, port.ofport);
            if let Some(tag) = port.tag {
                spec = spec.tag(tag);
                ovs_port = ovs_port.tag(tag);
            }
            if !port.trunks.is_empty() {
                spec = spec.trunks(port.trunks);
                ovs_port = ovs_port.trunks(port.trunks);
            }
            config = config.port(spec);
            ovs_ports.push(ovs_port);
        }
        let switch = Vswitchd::start(dir, &config);
        let ovs = OvsOracle::start(dir, OVS_BRIDGE, &ovs_ports);
        let switch_dir = dir.path().to_owned();
        let mut pair =
            DiffPair { switch, ovs, skip_local: false, mismatches: Vec::new(), compared: 0, loaded: 0, switch_dir };
        pair.load(version, flows);
        pair
    }

    /// Adds `flows` to both: to OVS with ovs-ofctl in OpenFlow `version`
    /// (which decides how OVS encodes some actions: `mod_vlan_vid` pushes a
    /// tag only when needed in OpenFlow 1.0, always in 1.3), to the switch
    /// from a flows file with `vsctl add-flows`.
    pub fn load(&mut self, version: OfVersion, flows: &[&str]) {
        self.loaded += flows.len();
        let file = self.switch_dir.join(format!("flows-{}.txt", self.loaded));
        std::fs::write(&file, flows.join("\n") + "\n")
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        self.switch.vsctl_ok(&["add-flows", BRIDGE, &file.display().to_string()]);
        let listed = self.switch.vsctl_ok(&["dump-flows", BRIDGE]);
        assert_eq!(listed.lines().count(), self.loaded, "the switch holds every rule:\n{listed}");
        self.ovs.add_flows(version, flows);
        assert_eq!(self.ovs.dump_flows(version).len(), self.loaded, "OVS holds every rule");
    }

    /// Traces `flow` through both without side effects, records any
    /// disagreement and returns what OVS delivers (in the common form).
    pub fn compare(&mut self, what: &str, flow: &str) -> Vec<Delivery> {
        let theirs = self.ovs.trace(flow);
        self.compare_with(what, flow, &theirs).1
    }

    /// Compares the switch's trace of `flow` with the OVS trace `theirs`;
    /// returns the switch's trace and OVS's deliveries.
    pub fn compare_with(&mut self, what: &str, flow: &str, theirs: &Trace) -> (OurTrace, Vec<Delivery>) {
        self.compared += 1;
        let ours = OurTrace::run(&self.switch, BRIDGE, flow);
        let mut problems = Vec::new();
        // OVS's reading of the flow (every field) is the packet both start from.
        let input = Headers::of_flow(&theirs.flow).unwrap_or_else(|e| panic!("OVS flow `{}`: {e}", theirs.flow));
        let our_input = Headers::of_flow(flow).unwrap_or_else(|e| panic!("flow `{flow}`: {e}"));
        if our_input.vlan != input.vlan || our_input.fields.iter().any(|(k, v)| input.fields.get(k) != Some(v)) {
            problems.push(format!("OVS read the flow as `{}`", theirs.flow));
        }
        let theirs_out = trace_diff::parse_ovs(theirs, self.skip_local)
            .map(|acts| trace_diff::deliveries(&input, &acts))
            .unwrap_or_else(|e| panic!("cannot model the OVS trace of {flow}: {e}\n{}", theirs.text));
        match trace_diff::parse_ours(&ours.datapath_actions) {
            Ok(acts) => {
                let ours_out = trace_diff::deliveries(&input, &acts);
                if ours_out != theirs_out {
                    problems.push(format!(
                        "deliveries differ:\n  vswitchd: {}\n  OVS:      {}",
                        list(&ours_out),
                        list(&theirs_out)
                    ));
                }
            }
            Err(e) => problems.push(format!("cannot model the vswitchd trace: {e}")),
        }
        if ours.tables() != theirs.tables() {
            problems.push(format!("tables looked up: vswitchd {:?}, OVS {:?}", ours.tables(), theirs.tables()));
        }
        if !problems.is_empty() {
            self.mismatches.push(format!(
                "== {what}: {flow}\n{}\n---- vsctl trace ----\n{}---- ofproto/trace ----\n{}",
                problems.join("\n"),
                ours.text(),
                theirs.text
            ));
        }
        (ours, theirs_out)
    }

    /// Panics with every mismatch, then stops both.
    pub fn finish(self) {
        let DiffPair { switch, ovs, mismatches, compared, .. } = self;
        assert!(compared > 0);
        if !mismatches.is_empty() {
            panic!(
                "{} of {compared} packets differ from Open vSwitch:\n\n{}",
                mismatches.len(),
                mismatches.join("\n\n")
            );
        }
        ovs.stop();
        switch.stop();
    }
}

/// `deliveries` on one line, for messages.
pub fn list(deliveries: &[Delivery]) -> String {
    if deliveries.is_empty() {
        return "(dropped)".to_owned();
    }
    deliveries.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// The OpenFlow ports of `deliveries`, in order.
pub fn out_ports(deliveries: &[Delivery]) -> Vec<u32> {
    deliveries.iter().map(|d| d.port).collect()
}

/// Traces every case through both; OVS must deliver to the ports given (an
/// anchor, so that both dropping everything cannot pass unnoticed).
pub fn compare_cases(pair: &mut DiffPair, cases: &[(&str, String, &[u32])]) {
    for (what, flow, expected) in cases {
        let delivered = pair.compare(what, flow);
        assert_eq!(out_ports(&delivered), *expected, "{what}: OVS delivers {}", list(&delivered));
    }
}

/// The VLAN set-up of the `NORMAL` tests: access ports of VLANs 10 and 20,
/// a trunk of VLANs 10 and 20, and a trunk of every VLAN.
pub const VLAN_PORTS: [Port; 5] = [
    Port { name: "access-a", ofport: 1, tag: Some(10), trunks: &[] },
    Port { name: "trunk", ofport: 2, tag: None, trunks: &[10, 20] },
    Port { name: "access-b", ofport: 3, tag: Some(20), trunks: &[] },
    Port { name: "access-c", ofport: 4, tag: Some(10), trunks: &[] },
    Port { name: "uplink", ofport: 5, tag: None, trunks: &[] },
];
