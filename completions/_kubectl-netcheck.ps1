
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'kubectl-netcheck' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'kubectl-netcheck'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'kubectl-netcheck' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--checks', '--checks', [CompletionResultType]::ParameterName, 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport (no external egress check yet)')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'Nodes to probe: a label selector (role=worker) or node names (a,b,c)')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Probe image (default: the image matching this binary''s version)')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Exit 1 on error findings only, or on warnings too')
            [CompletionResult]::new('--pairs', '--pairs', [CompletionResultType]::ParameterName, 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K')
            [CompletionResult]::new('--probe-timeout', '--probe-timeout', [CompletionResultType]::ParameterName, 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)')
            [CompletionResult]::new('--policy-from', '--policy-from', [CompletionResultType]::ParameterName, 'Give the probes the labels of a namespace''s workloads so its policies apply')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the probe namespace after the run')
            [CompletionResult]::new('--wait-cleanup', '--wait-cleanup', [CompletionResultType]::ParameterName, 'Wait until the probe namespace is gone before exiting (default: its deletion is requested and Kubernetes finishes it)')
            [CompletionResult]::new('--no-host', '--no-host', [CompletionResultType]::ParameterName, 'Skip host inspection (no privileged host-network pods)')
            [CompletionResult]::new('--all-checks', '--all-checks', [CompletionResultType]::ParameterName, 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)')
            [CompletionResult]::new('--aggregate', '--aggregate', [CompletionResultType]::ParameterName, 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show the full matrix even when wider than the terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Deploy probes, run every check, inspect hosts, diagnose, print, clean up (the default)')
            [CompletionResult]::new('lab', 'lab', [CompletionResultType]::ParameterValue, 'The same pipeline on a simulated cluster of network namespaces on this machine (root)')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'NetworkPolicy verdict between two pods, with the policies and rules that decide it')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Delete leftover probe namespaces of earlier runs')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('image', 'image', [CompletionResultType]::ParameterValue, 'Write the probe image as an OCI archive (for air-gapped clusters and kind)')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Re-render a saved JSON report in any format')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'What changed between two saved reports (exit 1 when something regressed)')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'What runs inside probe pods')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-netcheck;run' {
            [CompletionResult]::new('--checks', '--checks', [CompletionResultType]::ParameterName, 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport (no external egress check yet)')
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'Nodes to probe: a label selector (role=worker) or node names (a,b,c)')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Probe image (default: the image matching this binary''s version)')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Exit 1 on error findings only, or on warnings too')
            [CompletionResult]::new('--pairs', '--pairs', [CompletionResultType]::ParameterName, 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K')
            [CompletionResult]::new('--probe-timeout', '--probe-timeout', [CompletionResultType]::ParameterName, 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)')
            [CompletionResult]::new('--policy-from', '--policy-from', [CompletionResultType]::ParameterName, 'Give the probes the labels of a namespace''s workloads so its policies apply')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the probe namespace after the run')
            [CompletionResult]::new('--wait-cleanup', '--wait-cleanup', [CompletionResultType]::ParameterName, 'Wait until the probe namespace is gone before exiting (default: its deletion is requested and Kubernetes finishes it)')
            [CompletionResult]::new('--no-host', '--no-host', [CompletionResultType]::ParameterName, 'Skip host inspection (no privileged host-network pods)')
            [CompletionResult]::new('--all-checks', '--all-checks', [CompletionResultType]::ParameterName, 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)')
            [CompletionResult]::new('--aggregate', '--aggregate', [CompletionResultType]::ParameterName, 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show the full matrix even when wider than the terminal')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;lab' {
            [CompletionResult]::new('--nodes', '--nodes', [CompletionResultType]::ParameterName, 'How many nodes (the lab: up to 250; with --simulate: up to 10000)')
            [CompletionResult]::new('--pods-per-node', '--pods-per-node', [CompletionResultType]::ParameterName, 'Probe pods per node (two, so that same-node pairs are checked too)')
            [CompletionResult]::new('--fault', '--fault', [CompletionResultType]::ParameterName, 'Break the lab the way clusters break (repeatable); see --list-faults')
            [CompletionResult]::new('--kube-proxy', '--kube-proxy', [CompletionResultType]::ParameterName, 'How kube-proxy programs Services on the lab''s nodes')
            [CompletionResult]::new('--cni', '--cni', [CompletionResultType]::ParameterName, 'The CNI the lab''s nodes run. Flavours that need IPIP, GENEVE or WireGuard devices (Calico IPIP, Cilium, Weave) are out of the lab: this kernel has VXLAN but not those')
            [CompletionResult]::new('--ip-family', '--ip-family', [CompletionResultType]::ParameterName, 'IP families of the lab''s cluster: ipv4, ipv6 (pods, Services, nodes and DNS with IPv6 addresses in 2001:2::/48) or dual (both; every check runs per family), on every --cni flavour and --kube-proxy mode')
            [CompletionResult]::new('--policy', '--policy', [CompletionResultType]::ParameterName, 'NetworkPolicies (YAML) to load into the lab''s objects')
            [CompletionResult]::new('--checks', '--checks', [CompletionResultType]::ParameterName, 'Check kinds to run, comma-separated (default: all): pod-to-pod, pod-to-service, node-to-pod, pod-to-node, pod-to-apiserver, dns, mtu, nodeport')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Exit 1 on error findings only, or on warnings too')
            [CompletionResult]::new('--pairs', '--pairs', [CompletionResultType]::ParameterName, 'Node pairs to probe: auto (all up to 50 nodes, then sample:8), all, ring, or sample:K')
            [CompletionResult]::new('--probe-timeout', '--probe-timeout', [CompletionResultType]::ParameterName, 'How long a probe (and a DNS query) waits for its answer before the cell fails; a dead path costs about this much (raise it for slow links)')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write the report to FILE and the table to stdout (for CI: a readable log and a machine report). FILE gets the -o format; with -o table its extension picks (.xml JUnit, .md markdown, .txt table, else JSON); an extension naming another format than -o is refused (exit 2)')
            [CompletionResult]::new('--bench', '--bench', [CompletionResultType]::ParameterName, 'Benchmark: build, probe, inspect and report RUNS times and print timings')
            [CompletionResult]::new('--bench-nodes', '--bench-nodes', [CompletionResultType]::ParameterName, 'With --bench: the lab sizes to measure, comma-separated (default: --nodes)')
            [CompletionResult]::new('--bench-cni', '--bench-cni', [CompletionResultType]::ParameterName, 'With --bench: the CNI flavours to measure, comma-separated, or `all` (default: --cni); one line per flavour and size')
            [CompletionResult]::new('--seed', '--seed', [CompletionResultType]::ParameterName, 'With --simulate: the seed of the simulated latencies')
            [CompletionResult]::new('--destroy', '--destroy', [CompletionResultType]::ParameterName, 'Remove a lab kept with --keep (its id is in the namespace names: nc<ID>-…)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--list-faults', '--list-faults', [CompletionResultType]::ParameterName, 'List the faults and exit')
            [CompletionResult]::new('--all-checks', '--all-checks', [CompletionResultType]::ParameterName, 'Keep every check in the report however large the run (by default, past 20,000 probes or 50 nodes, agents count passed checks per cell and the report lists only the others)')
            [CompletionResult]::new('--aggregate', '--aggregate', [CompletionResultType]::ParameterName, 'Count passed checks per cell at any size (the default past 20,000 probes or 50 nodes): the report lists failures and cells, not passes')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show the full matrix even when wider than the terminal')
            [CompletionResult]::new('--no-host', '--no-host', [CompletionResultType]::ParameterName, 'Skip host inspection')
            [CompletionResult]::new('--keep', '--keep', [CompletionResultType]::ParameterName, 'Keep the lab after the run (remove it later with `lab --destroy ID`)')
            [CompletionResult]::new('--simulate', '--simulate', [CompletionResultType]::ParameterName, 'Simulate the cluster in memory instead of building it: no root, no namespaces, up to 10000 nodes; --fault breaks the simulated network. Proves the CLI''s side (plans, diagnosis, memory, time), not packets')
            [CompletionResult]::new('--destroy-all', '--destroy-all', [CompletionResultType]::ParameterName, 'Remove every lab left on this machine whose run has ended (kept or crashed)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'kubectl-netcheck;explain' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port and protocol, e.g. 80/TCP, 53/UDP, or a named port (http)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Read Namespaces, Pods and NetworkPolicies from YAML instead of the cluster')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Read Namespaces, Pods and NetworkPolicies from YAML instead of the cluster')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;cleanup' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;completion' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;image' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Where to write the archive')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Where to write the archive')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;report' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--wide', '--wide', [CompletionResultType]::ParameterName, 'Show the full matrix even when wider than the terminal')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;diff' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;agent' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM')
            [CompletionResult]::new('probe', 'probe', [CompletionResultType]::ParameterValue, 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout')
            [CompletionResult]::new('inspect-host', 'inspect-host', [CompletionResultType]::ParameterValue, 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-netcheck;agent;serve' {
            [CompletionResult]::new('--tcp-port', '--tcp-port', [CompletionResultType]::ParameterName, 'tcp-port')
            [CompletionResult]::new('--udp-port', '--udp-port', [CompletionResultType]::ParameterName, 'udp-port')
            [CompletionResult]::new('--http-port', '--http-port', [CompletionResultType]::ParameterName, 'http-port')
            [CompletionResult]::new('--pod-name', '--pod-name', [CompletionResultType]::ParameterName, 'Identity reported by the HTTP endpoint (default: $POD_NAME, $NODE_NAME, $POD_IP)')
            [CompletionResult]::new('--node-name', '--node-name', [CompletionResultType]::ParameterName, 'node-name')
            [CompletionResult]::new('--pod-ip', '--pod-ip', [CompletionResultType]::ParameterName, 'pod-ip')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;agent;probe' {
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;agent;inspect-host' {
            [CompletionResult]::new('--host-root', '--host-root', [CompletionResultType]::ParameterName, 'Where the host''s root filesystem is mounted (/ on the host itself)')
            [CompletionResult]::new('--cni-conf-dir', '--cni-conf-dir', [CompletionResultType]::ParameterName, 'CNI config dir, relative to the host root (default: the container runtime''s conf_dir/network_dir, else /etc/cni/net.d)')
            [CompletionResult]::new('--cni-bin-dir', '--cni-bin-dir', [CompletionResultType]::ParameterName, 'CNI plugin binary dir, relative to the host root (default: the container runtime''s bin_dir(s)/plugin_dirs, else the known places: /opt/cni/bin, /usr/lib/cni, /usr/libexec/cni, /var/lib/cni/bin, …)')
            [CompletionResult]::new('--node-name', '--node-name', [CompletionResultType]::ParameterName, 'Node name to put in the report')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Namespace for the probes (default: a fresh netcheck-<id>, deleted at the end)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Report format on stdout')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Overall deadline of the run (e.g. 90s, 5m)')
            [CompletionResult]::new('--no-color', '--no-color', [CompletionResultType]::ParameterName, 'No colour (also when NO_COLOR is set or stdout is not a terminal)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'No progress, only the report and errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More logging on stderr (-v, -vv)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'kubectl-netcheck;agent;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM')
            [CompletionResult]::new('probe', 'probe', [CompletionResultType]::ParameterValue, 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout')
            [CompletionResult]::new('inspect-host', 'inspect-host', [CompletionResultType]::ParameterValue, 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-netcheck;agent;help;serve' {
            break
        }
        'kubectl-netcheck;agent;help;probe' {
            break
        }
        'kubectl-netcheck;agent;help;inspect-host' {
            break
        }
        'kubectl-netcheck;agent;help;help' {
            break
        }
        'kubectl-netcheck;help' {
            [CompletionResult]::new('run', 'run', [CompletionResultType]::ParameterValue, 'Deploy probes, run every check, inspect hosts, diagnose, print, clean up (the default)')
            [CompletionResult]::new('lab', 'lab', [CompletionResultType]::ParameterValue, 'The same pipeline on a simulated cluster of network namespaces on this machine (root)')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'NetworkPolicy verdict between two pods, with the policies and rules that decide it')
            [CompletionResult]::new('cleanup', 'cleanup', [CompletionResultType]::ParameterValue, 'Delete leftover probe namespaces of earlier runs')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print shell completions')
            [CompletionResult]::new('image', 'image', [CompletionResultType]::ParameterValue, 'Write the probe image as an OCI archive (for air-gapped clusters and kind)')
            [CompletionResult]::new('report', 'report', [CompletionResultType]::ParameterValue, 'Re-render a saved JSON report in any format')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'What changed between two saved reports (exit 1 when something regressed)')
            [CompletionResult]::new('agent', 'agent', [CompletionResultType]::ParameterValue, 'What runs inside probe pods')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'kubectl-netcheck;help;run' {
            break
        }
        'kubectl-netcheck;help;lab' {
            break
        }
        'kubectl-netcheck;help;explain' {
            break
        }
        'kubectl-netcheck;help;cleanup' {
            break
        }
        'kubectl-netcheck;help;completion' {
            break
        }
        'kubectl-netcheck;help;image' {
            break
        }
        'kubectl-netcheck;help;report' {
            break
        }
        'kubectl-netcheck;help;diff' {
            break
        }
        'kubectl-netcheck;help;agent' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve TCP echo, UDP echo and an HTTP identity endpoint until SIGTERM')
            [CompletionResult]::new('probe', 'probe', [CompletionResultType]::ParameterValue, 'Read a probe plan (JSON) on stdin, run it, write the results (JSON) on stdout')
            [CompletionResult]::new('inspect-host', 'inspect-host', [CompletionResultType]::ParameterValue, 'Inspect the host (CNI, firewall, sysctls, interfaces) and print JSON')
            break
        }
        'kubectl-netcheck;help;agent;serve' {
            break
        }
        'kubectl-netcheck;help;agent;probe' {
            break
        }
        'kubectl-netcheck;help;agent;inspect-host' {
            break
        }
        'kubectl-netcheck;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
