# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_kubectl_netcheck_global_optspecs
    string join \n kubeconfig= context= n/namespace= o/output= timeout= no-color q/quiet v/verbose checks= nodes= image= keep wait-cleanup no-host fail-on= pairs= probe-timeout= all-checks aggregate output-file= wide policy-from= h/help V/version
end

function __fish_kubectl_netcheck_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_kubectl_netcheck_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_kubectl_netcheck_using_subcommand
    set -l cmd (__fish_kubectl_netcheck_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l checks -d 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport (no external egress check yet)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l nodes -d 'Nodes to probe: a label selector (role=worker) or node names (a,b,c)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l image -d 'Probe image (default: the image matching this binary\'s version)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l fail-on -d 'Exit 1 on error findings only, or on warnings too' -r -f -a "error\t''
warning\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l pairs -d 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l probe-timeout -d 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l output-file -d 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l policy-from -d 'Give the probes the labels of a namespace\'s workloads so its policies apply' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l keep -d 'Keep the probe namespace after the run'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l wait-cleanup -d 'Wait until the probe namespace is gone before exiting (default: its deletion is requested and Kubernetes finishes it)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l no-host -d 'Skip host inspection (no privileged host-network pods)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l all-checks -d 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l aggregate -d 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -l wide -d 'Show the full matrix even when wider than the terminal'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -s V -l version -d 'Print version'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "run" -d 'Deploy probes, run every check, inspect hosts, diagnose, print, clean up (the default)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "lab" -d 'The same pipeline on a simulated cluster of network namespaces on this machine (root)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "explain" -d 'NetworkPolicy verdict between two pods, with the policies and rules that decide it'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "cleanup" -d 'Delete leftover probe namespaces of earlier runs'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "completion" -d 'Print shell completions'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "image" -d 'Write the probe image as an OCI archive (for air-gapped clusters and kind)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "report" -d 'Re-render a saved JSON report in any format'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "diff" -d 'What changed between two saved reports (exit 1 when something regressed)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "agent" -d 'What runs inside probe pods'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l checks -d 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport (no external egress check yet)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l nodes -d 'Nodes to probe: a label selector (role=worker) or node names (a,b,c)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l image -d 'Probe image (default: the image matching this binary\'s version)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l fail-on -d 'Exit 1 on error findings only, or on warnings too' -r -f -a "error\t''
warning\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l pairs -d 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l probe-timeout -d 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l output-file -d 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l policy-from -d 'Give the probes the labels of a namespace\'s workloads so its policies apply' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l keep -d 'Keep the probe namespace after the run'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l wait-cleanup -d 'Wait until the probe namespace is gone before exiting (default: its deletion is requested and Kubernetes finishes it)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l no-host -d 'Skip host inspection (no privileged host-network pods)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l all-checks -d 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l aggregate -d 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l wide -d 'Show the full matrix even when wider than the terminal'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand run" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l nodes -d 'How many nodes (the lab: up to 250; with --simulate: up to 10000)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l pods-per-node -d 'Probe pods per node (two, so that same-node pairs are checked too)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l fault -d 'Break the lab the way clusters break (repeatable); see --list-faults' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l kube-proxy -d 'How kube-proxy programs Services on the lab\'s nodes' -r -f -a "iptables\t'KUBE-SERVICES chains in iptables'
nftables\t'table ip kube-proxy (and ip6 kube-proxy for IPv6) in nftables (needs nft)'"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l cni -d 'The CNI the lab\'s nodes run. Flavours that need IPIP, GENEVE or WireGuard devices (Calico IPIP, Cilium, Weave) are out of the lab: this kernel has VXLAN but not those' -r -f -a "flannel\t'flannel\'s VXLAN backend: a bridge cni0 per node, flannel.1 to the others (pod MTU 1450)'
host-gw\t'flannel\'s host-gw backend: a bridge cni0 per node, routes to the others via their node IPs (pod MTU 1500)'
calico\t'Calico\'s VXLAN mode: a cali veth per pod (proxy ARP, gateway 169.254.1.1), no bridge, vxlan.calico to the others (pod MTU 1450; IPv6: vxlan-v6.calico, 1430)'
kindnet\t'kind\'s CNI: a ptp veth per pod, no bridge, routes to the others via their node IPs (pod MTU 1500)'"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l ip-family -d 'IP families of the lab\'s cluster: ipv4, ipv6 (pods, Services, nodes and DNS with IPv6 addresses in 2001:2::/48) or dual (both; every check runs per family), on every --cni flavour and --kube-proxy mode' -r -f -a "ipv4\t''
ipv6\t''
dual\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l policy -d 'NetworkPolicies (YAML) to load into the lab\'s objects' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l checks -d 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l fail-on -d 'Exit 1 on error findings only, or on warnings too' -r -f -a "error\t''
warning\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l pairs -d 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l probe-timeout -d 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l output-file -d 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l bench -d 'Benchmark: build, probe, inspect and report RUNS times and print timings' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l bench-nodes -d 'With --bench: the lab sizes to measure, comma-separated (default: --nodes)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l bench-cni -d 'With --bench: the CNI flavours to measure, comma-separated, or `all` (default: --cni); one line per flavour and size' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l seed -d 'With --simulate: the seed of the simulated latencies' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l destroy -d 'Remove a lab kept with --keep (its id is in the namespace names: nc<ID>-…)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l list-faults -d 'List the faults and exit'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l all-checks -d 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l aggregate -d 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l wide -d 'Show the full matrix even when wider than the terminal'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l no-host -d 'Skip host inspection'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l keep -d 'Keep the lab after the run (remove it later with `lab --destroy ID`)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l simulate -d 'Simulate the cluster in memory instead of building it: no root, no namespaces, up to 10000 nodes; --fault breaks the simulated network. Proves the CLI\'s side (plans, diagnosis, memory, time), not packets'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l destroy-all -d 'Remove every lab left on this machine whose run has ended (kept or crashed)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand lab" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -l port -d 'Port and protocol, e.g. 80/TCP, 53/UDP, or a named port (http)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s f -l filename -d 'Read Namespaces, Pods and NetworkPolicies from YAML instead of the cluster' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand explain" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand cleanup" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand completion" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s f -l output-file -d 'Where to write the archive' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand image" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -l wide -d 'Show the full matrix even when wider than the terminal'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand report" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand diff" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -f -a "serve" -d 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -f -a "probe" -d 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -f -a "inspect-host" -d 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and not __fish_seen_subcommand_from serve probe inspect-host help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l tcp-port -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l udp-port -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l http-port -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l pod-name -d 'Identity reported by the HTTP endpoint (default: $POD_NAME, $NODE_NAME, $POD_IP)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l node-name -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l pod-ip -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from serve" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from probe" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l host-root -d 'Where the host\'s root filesystem is mounted (/ on the host itself)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l cni-conf-dir -d 'CNI config dir, relative to the host root (default: the container runtime\'s conf_dir/network_dir, else /etc/cni/net.d)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l cni-bin-dir -d 'CNI plugin binary dir, relative to the host root (default: the container runtime\'s bin_dir(s)/plugin_dirs, else the known places: /opt/cni/bin, /usr/lib/cni, /usr/libexec/cni, /var/lib/cni/bin, …)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l node-name -d 'Node name to put in the report' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l kubeconfig -d 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)' -r -F
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l context -d 'The kubeconfig context to use' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -s n -l namespace -d 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -s o -l output -d 'Report format on stdout' -r -f -a "table\t''
json\t''
junit\t''
markdown\t''"
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l timeout -d 'Overall deadline of the run (e.g. 90s, 5m)' -r
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -l no-color -d 'No colour (also when NO_COLOR is set or stdout is not a terminal)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -s q -l quiet -d 'No progress, only the report and errors'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -s v -l verbose -d 'More logging on stderr (-v, -vv)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from inspect-host" -s h -l help -d 'Print help'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "serve" -d 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "probe" -d 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "inspect-host" -d 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand agent; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "run" -d 'Deploy probes, run every check, inspect hosts, diagnose, print, clean up (the default)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "lab" -d 'The same pipeline on a simulated cluster of network namespaces on this machine (root)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "explain" -d 'NetworkPolicy verdict between two pods, with the policies and rules that decide it'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "cleanup" -d 'Delete leftover probe namespaces of earlier runs'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "completion" -d 'Print shell completions'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "image" -d 'Write the probe image as an OCI archive (for air-gapped clusters and kind)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "report" -d 'Re-render a saved JSON report in any format'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "diff" -d 'What changed between two saved reports (exit 1 when something regressed)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "agent" -d 'What runs inside probe pods'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and not __fish_seen_subcommand_from run lab explain cleanup completion image report diff agent help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "serve" -d 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "probe" -d 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout'
complete -c kubectl-netcheck -n "__fish_kubectl_netcheck_using_subcommand help; and __fish_seen_subcommand_from agent" -f -a "inspect-host" -d 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON'
