//! The agent: what runs inside every probe pod (and every lab namespace).
//! `serve` answers probes, `probe` runs a plan, `inspect-host` reads the node.
