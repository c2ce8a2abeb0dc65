//! The account as the source of truth: two machines see and clean up each
//! other's deployments through the tags; races between deploy, status and
//! destroy never lose a Linode; exit codes scripts can trust.

mod support;

use std::time::Duration;

use support::*;

fn linode_ids(env: &Env) -> Vec<u64> {
    env.sim
        .instances()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect()
}

#[test]
fn two_machines_see_adopt_and_destroy_each_others_deployments() {
    let a = Env::new();
    let b = a.other_machine();
    let dir = a.project("chat-agent");
    a.run(&["deploy"], Some(&dir)).ok();
    a.run(&["deploy", "--env", "staging"], Some(&dir)).ok();
    // Machine B has no record, but the account has the tags.
    let j = b.run(&["status", "--json"], None).code(3).json();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{j}");
    for r in rows {
        assert_eq!(r["status"], "untracked");
        assert_eq!(r["tracked"], false);
        assert_eq!(r["app_name"], "chat-agent");
        assert_eq!(r["template"], "chat-agent");
        assert_eq!(r["template_version"], "0.2.0");
    }
    let out = b.run(&["status"], None).code(3);
    assert!(out.stdout.contains("linode-ai adopt"), "{}", out.stdout);
    // B destroys one of A's deployments without adopting it first.
    let out = b.run(&["destroy", "--env", "staging", "--yes"], None).ok();
    assert!(
        out.stdout.contains("[untracked]") && out.stdout.contains("destroyed"),
        "{}",
        out.stdout
    );
    assert_eq!(linode_ids(&a).len(), 1);
    assert_eq!(a.sim.firewalls().len(), 1, "its firewall went too");
    // A sees its record's Linode gone: missing until destroyed.
    let j = a.run(&["status", "--json"], None).code(3).json();
    let staging = j["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["env"] == "staging")
        .unwrap()
        .clone();
    assert_eq!(staging["status"], "missing");
    // B adopts the other one: a record rebuilt from the tags.
    b.run(&["adopt", "--app", "chat-agent", "--env", "default"], None)
        .ok();
    let rec = &b.records()[0];
    assert_eq!(rec["env"], "default");
    assert_eq!(rec["template_version"], "0.2.0");
    // The name the instance serves, derived from its IPv4 as its boot did;
    // not its rDNS (the stand-in's `localhost` is a custom rDNS name, which
    // the instance has no certificate for).
    assert_eq!(rec["hostname"], SERVED_NAME);
    assert_eq!(rec["url"], format!("https://{SERVED_NAME}"));
    assert_eq!(rec["firewall"]["kind"], "created");
    assert_eq!(
        rec["deployment_id"],
        a.records().iter().find(|r| r["env"] == "default").unwrap()["deployment_id"]
    );
    let j = b.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["tracked"], true);
    // Nothing left to adopt.
    b.run(&["adopt", "--all"], None).fails();
}

#[test]
fn a_second_deploy_of_the_same_app_asks_and_replace_or_new_decide() {
    let env = Env::new();
    let dir = env.project("embeddings");
    env.run(&["deploy"], Some(&dir)).ok();
    let first = linode_ids(&env);
    // Off a terminal: refused, with the ways forward.
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("already exists")
            && out.stderr.contains("--replace")
            && out.stderr.contains("--new"),
        "{}",
        out.stderr
    );
    assert_eq!(linode_ids(&env), first, "nothing created");
    // --new: a second one beside it, with a label of its own.
    env.run(&["deploy", "--new"], Some(&dir)).ok();
    let labels: Vec<String> = env
        .sim
        .instances()
        .iter()
        .map(|i| i["label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(labels.len(), 2);
    assert_ne!(labels[0], labels[1]);
    // Two of one app/env: --id picks one.
    let id = env.records()[0]["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env
        .run(&["destroy", "--app", "embeddings", "--yes"], None)
        .fails();
    assert!(out.stderr.contains("2 deployments match"), "{}", out.stderr);
    env.run(&["destroy", "--id", &id[..8], "--yes"], None).ok();
    assert_eq!(env.records().len(), 1);
    // --replace: the new one first, then the old one goes.
    let old = linode_ids(&env);
    let out = env.run(&["deploy", "--replace"], Some(&dir)).ok();
    assert!(out.stderr.contains("replaced:"), "{}", out.stderr);
    let now = linode_ids(&env);
    assert_eq!(now.len(), 1);
    assert_ne!(now, old);
    assert_eq!(env.records().len(), 1);
    assert_eq!(env.sim.firewalls().len(), 1);
}

#[test]
fn deploys_in_the_same_second_get_different_labels() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    let children: Vec<_> = (0..3)
        .map(|_| {
            let mut c = env.cmd(&["deploy", "--new"], Some(&dir));
            c.stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.sim.instances().len(), 3);
    assert_eq!(env.records().len(), 3);
}

#[test]
fn destroy_leaves_a_pending_record_alone_while_its_deploy_runs() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // The create lands 3 s late.
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        delay_before_ms: 3000,
        ..Default::default()
    });
    let mut c = env.cmd(&["deploy"], Some(&dir));
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let deploy = c.spawn().unwrap();
    wait_for("the pending record", Duration::from_secs(10), || {
        env.records()
            .first()
            .is_some_and(|r| r["firewall"]["id"].is_u64())
    });
    let out = env.run(&["destroy", "--yes"], None).fails();
    assert!(
        out.stderr.contains("its deploy is still running"),
        "{}",
        out.stderr
    );
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "pending");
    assert!(
        j["rows"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("deploy in progress"),
        "{j}"
    );
    let out = deploy.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The Linode exists and is recorded: never orphaned.
    assert_eq!(env.sim.instances().len(), 1);
    assert!(env.records()[0]["linode_id"].is_u64());
    env.run(&["destroy", "--yes"], None).ok();
    assert!(env.sim.instances().is_empty() && env.sim.firewalls().is_empty());
}

#[test]
fn a_create_that_lands_after_the_label_lookup_is_found_not_orphaned() {
    let mut env = Env::new();
    env.extra
        .push(("LINODE_AI_API_TIMEOUT_SECS".into(), "1".into()));
    let dir = env.project("chat-agent");
    // The first create lands at 1.2 s (after the client gave up at 1 s and
    // looked for the label in vain); the retry arrives after it: "Label must be unique".
    for delay in [1200, 600] {
        env.sim.add_fault(Fault {
            method: "POST".into(),
            path: "/v4/linode/instances".into(),
            delay_before_ms: delay,
            ..Default::default()
        });
    }
    let out = env.run(&["deploy"], Some(&dir)).ok();
    assert!(out.stdout.contains("Deployed"), "{}", out.stderr);
    assert_eq!(env.posts().len(), 2);
    assert_eq!(env.sim.instances().len(), 1);
    let rec = &env.records()[0];
    assert_eq!(
        rec["linode_id"],
        env.sim.instances()[0]["id"],
        "the record names the Linode"
    );
}

#[test]
fn kill_9_at_any_step_leaves_nothing_status_does_not_show() {
    // Killed while the firewall exists and the instance create is under way
    // (it lands later), and while only the firewall exists.
    for (fault_path, lands) in [
        ("/v4/linode/instances", true),
        ("/v4/linode/instances", false),
    ] {
        let env = Env::new();
        let dir = env.project("chat-agent");
        env.sim.add_fault(Fault {
            method: "POST".into(),
            path: fault_path.into(),
            delay_before_ms: 2000,
            status: if lands { 0 } else { 500 },
            reason: "lost".into(),
            ..Default::default()
        });
        let mut c = env.cmd(&["deploy"], Some(&dir));
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut deploy = c.spawn().unwrap();
        wait_for("the firewall", Duration::from_secs(10), || {
            !env.sim.firewalls().is_empty()
        });
        wait_for("the create call", Duration::from_secs(10), || {
            !env.posts().is_empty()
        });
        deploy.kill().unwrap();
        deploy.wait().unwrap();
        if lands {
            // The create the killed deploy sent lands after it died.
            wait_for("the late create", Duration::from_secs(10), || {
                !env.sim.instances().is_empty()
            });
        }
        let j = env.run(&["status", "--json"], None).code(3).json();
        let rows = j["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{j}");
        if lands {
            assert!(
                rows[0]["detail"].as_str().unwrap().contains("exists"),
                "{j}"
            );
            assert_eq!(
                env.records()[0]["linode_id"],
                env.sim.instances()[0]["id"],
                "completed from the account"
            );
        } else {
            assert_eq!(rows[0]["status"], "pending");
            assert!(
                rows[0]["detail"]
                    .as_str()
                    .unwrap()
                    .contains("create did not complete"),
                "{j}"
            );
        }
        let out = env.run(&["destroy", "--yes"], None).ok();
        assert!(
            out.stdout.contains(if lands {
                "destroyed"
            } else {
                "no Linode was created"
            }),
            "{}",
            out.stdout
        );
        assert!(
            env.sim.instances().is_empty() && env.sim.firewalls().is_empty(),
            "nothing left"
        );
        assert!(env.records().is_empty());
    }
    // A firewall whose deployment lost its record too: listed as orphaned, destroyable.
    let env = Env::new();
    let dir = env.project("chat-agent");
    env.sim.add_fault(Fault::error(
        "POST",
        "/v4/linode/instances",
        400,
        "region is not valid",
    ));
    env.sim.add_fault(Fault {
        // Exactly the deploy's own clean-up attempts: the firewall stays behind.
        times: 5,
        ..Fault::error("DELETE", "/v4/networking/firewalls", 500, "down")
    });
    env.run(&["deploy"], Some(&dir)).fails();
    std::fs::remove_file(env.registry_path()).unwrap();
    // Made long ago: no deploy can still be creating its Linode.
    let left = env.sim.firewalls()[0].0["id"].as_u64().unwrap();
    env.sim.set_firewall_created(left, "2026-01-01T00:00:00");
    let j = env.run(&["status", "--json"], None).code(3).json();
    let orphans = j["orphan_firewalls"].as_array().unwrap();
    assert_eq!(orphans.len(), 1, "{j}");
    let fw = orphans[0]["id"].as_u64().unwrap().to_string();
    env.run(&["destroy", "--id", &fw, "--yes"], None).ok();
    assert!(env.sim.firewalls().is_empty());
}

#[test]
fn status_exit_codes_tell_could_not_check_from_not_running() {
    let mut env = Env::new();
    let dir = env.project("chat-agent");
    env.run(&["deploy"], Some(&dir)).ok();
    // Checked, not running yet: 3.
    env.run(&["status"], None).code(3);
    // The codes are documented where a script author looks.
    let help = env.run(&["status", "--help"], None).ok();
    let help = help.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        help.contains("3 checked") && help.contains("1 could not check"),
        "{help}"
    );
    // Could not check: 1, whatever the cause.
    env.extra.push(("LINODE_CLI_TOKEN".into(), "wrong".into()));
    let out = env.run(&["status"], None).fails();
    assert!(out.stderr.contains("Invalid Token"), "{}", out.stderr);
    env.extra.clear();
    env.sim.add_fault(Fault {
        method: "GET".into(),
        path: "/v4/linode/instances".into(),
        body: Some("{\"data\": [oops".into()),
        times: 5,
        ..Default::default()
    });
    env.run(&["status", "--json"], None).fails();
    env.extra
        .push(("LINODE_CLI_API_HOST".into(), "127.0.0.1:1".into()));
    env.run(&["status"], None).fails();
}

/// Lists are read page by page (500 each, as the API allows at most): page 1
/// says how many, the rest are asked for at once; an answer claiming absurdly
/// many pages is refused, not followed.
#[test]
fn status_reads_every_page_and_refuses_endless_ones() {
    let env = Env::new();
    for i in 0..1201 {
        let tags = vec![
            "build_ai".to_string(),
            format!("build_ai_id=p{i}"),
            format!("build_ai_app=app{i}"),
            "build_ai_env=default".to_string(),
        ];
        env.sim
            .seed_tagged(&format!("build-ai-app{i}-default-20261126T143000Z"), &tags);
    }
    let before = env.sim.requests().len();
    let j = env
        .run(&["status", "--json", "--app", "app1200"], None)
        .code(3)
        .json();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{j}");
    assert_eq!(
        rows[0]["status"], "untracked",
        "the last instance, on page 3: {j}"
    );
    let mut pages: Vec<String> = env.sim.requests()[before..]
        .iter()
        .filter(|r| r.path == "/v4/linode/instances")
        .map(|r| r.query.clone())
        .collect();
    pages.sort();
    assert_eq!(
        pages,
        [
            "page=1&page_size=500",
            "page=2&page_size=500",
            "page=3&page_size=500"
        ]
    );

    env.sim.add_fault(Fault {
        method: "GET".into(),
        path: "/v4/linode/instances".into(),
        body: Some(r#"{"data":[],"page":1,"pages":4000000000,"results":0}"#.into()),
        ..Default::default()
    });
    let before = env.sim.requests().len();
    let out = env.run(&["status"], None).fails();
    assert!(
        out.stderr.contains("reports 4000000000 pages") && out.stderr.contains("at most 100"),
        "{}",
        out.stderr
    );
    assert!(env.sim.requests().len() - before <= 3, "not followed");
}

/// Runs `args` `n` times at once in `dir`; returns each run's outcome.
fn at_once(env: &Env, args: &[&str], dir: &std::path::Path, n: usize) -> Vec<Run> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut c = env.cmd(args, Some(dir));
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            c.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| Run::from(c.wait_with_output().unwrap()))
        .collect()
}

/// Issue 16, item 2: simultaneous deploys of one app/env on one machine make
/// one Linode; the others are refused (the first reserves the app/env in the
/// registry, under its lock, before looking at the account).
#[test]
fn simultaneous_deploys_of_one_app_env_make_one_linode() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // Every API call takes a while: all of them look at the account before any creates.
    env.sim.set_latency(100);
    let runs = at_once(&env, &["deploy"], &dir, 5);
    assert_eq!(env.sim.instances().len(), 1, "one Linode");
    assert_eq!(runs.iter().filter(|r| r.code == 0).count(), 1);
    for r in runs.iter().filter(|r| r.code != 0) {
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert!(
            r.stderr.contains("in progress") || r.stderr.contains("already exists"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(env.records().len(), 1, "refused runs leave no record");
    assert_eq!(env.sim.firewalls().len(), 1);
    // Five --replace at once: still one Linode, a new one, and one record.
    let old = linode_ids(&env);
    let runs = at_once(&env, &["deploy", "--replace"], &dir, 5);
    assert!(runs.iter().any(|r| r.code == 0), "one replaces");
    let now = linode_ids(&env);
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(now, old);
    assert_eq!(env.records().len(), 1);
    assert_eq!(env.sim.firewalls().len(), 1);
}

/// Issue 16, item 3: the create's answer is lost and the account list lags:
/// the retry's "Label must be unique" means created. The record and the
/// firewall stay, and status completes the record once the list shows it.
#[test]
fn a_lost_create_answer_and_a_lagging_list_keep_the_record_and_firewall() {
    let mut env = Env::with(SimConfig {
        // As the real API: a firewall can be deleted while attached.
        firewall_delete_requires_detached: false,
        ..Default::default()
    });
    env.extra
        .push(("LINODE_AI_RETRY_BUDGET_SECS".into(), "2".into()));
    let dir = env.project("chat-agent");
    env.sim.add_fault(Fault {
        method: "POST".into(),
        path: "/v4/linode/instances".into(),
        drop_answer: true,
        ..Default::default()
    });
    env.sim.lag_lists();
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        !out.stderr.contains("failed;") && out.stderr.contains("was created"),
        "an honest message: {}",
        out.stderr
    );
    assert!(out.stderr.contains("linode-ai status"), "{}", out.stderr);
    let instances = env.sim.instances();
    assert_eq!(instances.len(), 1);
    let fws = env.sim.firewalls();
    assert_eq!(fws.len(), 1, "the firewall stays");
    assert_eq!(fws[0].1, [instances[0]["id"].as_u64().unwrap()]);
    let rec = &env.records()[0];
    assert!(
        rec["linode_id"].is_null(),
        "pending until the list shows it"
    );
    assert_eq!(rec["firewall"]["id"], fws[0].0["id"]);
    env.sim.catch_up_lists();
    env.run(&["status", "--json"], None).code(3);
    assert_eq!(env.records()[0]["linode_id"], instances[0]["id"]);
}

/// Issue 16, item 1: while A deploys, B sees A's new firewall (no instance
/// yet, no record in B's registry); it is young, so it is not an orphan: B's
/// status does not call it one and B's `destroy --all` leaves it alone.
#[test]
fn another_machine_leaves_a_young_firewall_of_a_deploy_in_progress_alone() {
    let a = Env::new();
    let b = a.other_machine();
    let dir = a.project("chat-agent");
    let gate = a.sim.hold("POST", "/v4/linode/instances");
    let mut c = a.cmd(&["deploy"], Some(&dir));
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let deploy = c.spawn().unwrap();
    wait_for("the create call", Duration::from_secs(30), || {
        gate.arrived() == 1
    });
    assert_eq!(a.sim.firewalls().len(), 1);
    let j = b.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["orphan_firewalls"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(j["young_firewalls"].as_array().unwrap().len(), 1, "{j}");
    let out = b.run(&["status"], None).code(3);
    assert!(
        out.stdout.contains("may still be creating") && !out.stdout.contains("orphaned"),
        "{}",
        out.stdout
    );
    b.run(&["destroy", "--all", "--yes"], None);
    assert_eq!(a.sim.firewalls().len(), 1, "B left it alone");
    gate.open();
    let out = Run::from(deploy.wait_with_output().unwrap()).ok();
    assert!(out.stdout.contains("Firewall:  50"), "{}", out.stdout);
    let fws = a.sim.firewalls();
    assert_eq!(fws.len(), 1);
    assert_eq!(fws[0].1, [linode_ids(&a)[0]], "attached");
}

/// Issue 16, item 1: status checks that a recorded firewall still exists and
/// is still attached, and says so when not.
#[test]
fn status_says_when_a_recorded_firewall_is_gone_or_detached() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    env.run(&["deploy"], Some(&dir)).ok();
    let fw = env.records()[0]["firewall"]["id"].as_u64().unwrap();
    env.sim.detach_firewall(fw);
    let j = env.run(&["status", "--json"], None).code(3).json();
    let detail = j["rows"][0]["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(&format!("firewall {fw} is not attached")),
        "{j}"
    );
    env.sim.remove_firewall(fw);
    let out = env.run(&["status"], None).code(3);
    assert!(
        out.stdout
            .contains(&format!("firewall {fw} no longer exists")),
        "{}",
        out.stdout
    );
}

/// Issue 16, item 5: a deployment whose Linode is gone (`missing`) does not
/// block a new deploy of the same app/env.
#[test]
fn a_missing_deployment_does_not_block_a_new_deploy() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    // Without a cache volume: a Linode gone with its volume kept reads as
    // parked (`park_keeps_the_volume_and_resume_comes_back_on_it`).
    env.run(&["deploy", "--no-cache"], Some(&dir)).ok();
    let id = linode_ids(&env)[0];
    env.sim.delete_instance(id);
    let j = env.run(&["status", "--json"], None).code(3).json();
    assert_eq!(j["rows"][0]["status"], "missing", "{j}");
    env.run(&["deploy", "--no-cache"], Some(&dir)).ok();
    assert_eq!(linode_ids(&env).len(), 1);
}

/// Issue 16, item 6: one oddly shaped instance in the account does not block
/// status, adopt or destroy for the rest: it is skipped with a warning.
#[test]
fn oddly_shaped_instances_are_skipped_with_a_warning() {
    let a = Env::new();
    let b = a.other_machine();
    let dir = a.project("chat-agent");
    a.run(&["deploy"], Some(&dir)).ok();
    for odd in [
        serde_json::json!({"id": 7001, "label": "odd-status", "status": 5, "tags": ["build_ai"]}),
        serde_json::json!({"id": 7002, "label": "odd-ipv4", "status": "running", "ipv4": "1.2.3.4", "tags": ["build_ai"]}),
        serde_json::json!({"id": -5, "label": "odd-id\u{1b}[2J", "status": "running", "tags": ["build_ai"]}),
    ] {
        a.sim.seed_raw_instance(odd);
    }
    let out = b.run(&["status"], None);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("chat-agent"), "{}", out.stdout);
    assert!(
        out.stderr.contains("skipped 3 instances") && !out.stderr.contains('\u{1b}'),
        "{}",
        out.stderr
    );
    let j = b.run(&["status", "--json"], None).json();
    assert_eq!(j["rows"].as_array().unwrap().len(), 1, "{j}");
    assert_eq!(j["skipped"].as_array().unwrap().len(), 3, "{j}");
    let out = b.run(&["adopt", "--all"], None).ok();
    assert!(out.stderr.contains("skipped 3 instances"), "{}", out.stderr);
    let out = a.run(&["destroy", "--yes"], None).ok();
    assert!(out.stdout.contains("destroyed"), "{}", out.stdout);
    assert_eq!(a.sim.firewalls().len(), 0);
}

/// Issue 16, item 13: a filter that matches nothing is not "all running":
/// exit 3, and the names that exist are named.
#[test]
fn status_with_a_filter_that_matches_nothing_exits_3_and_names_what_exists() {
    let env = Env::new();
    let dir = env.project("chat-agent");
    env.run(&["deploy"], Some(&dir)).ok();
    env.run(&["deploy", "--env", "staging"], Some(&dir)).ok();
    let out = env.run(&["status", "--app", "chat-agnet"], None).code(3);
    assert!(
        out.stderr.contains("chat-agnet") && out.stderr.contains("chat-agent"),
        "{}",
        out.stderr
    );
    let out = env
        .run(&["status", "--app", "chat-agent", "--env", "prod"], None)
        .code(3);
    assert!(
        out.stderr.contains("default") && out.stderr.contains("staging"),
        "{}",
        out.stderr
    );
    let j = env
        .run(&["status", "--json", "--app", "chat-agnet"], None)
        .code(3)
        .json();
    assert_eq!(j["rows"].as_array().unwrap().len(), 0);
}

/// Issue 16, item 10: values from the API are cut where they are shown:
/// an instance with 100,000-character tags and a firewall with a
/// 100,000-character label print a few lines, not hundreds of kilobytes.
#[test]
fn huge_values_from_the_api_are_cut_where_shown() {
    let env = Env::new();
    let huge = "x".repeat(100_000);
    let tags: Vec<String> = vec![
        "build_ai".into(),
        format!("build_ai_app={huge}"),
        format!("build_ai_env={huge}"),
        format!("build_ai_template={huge}"),
        format!("build_ai_template_version={huge}"),
        "build_ai_id=big".into(),
    ];
    env.sim.seed_tagged("build-ai-big", &tags);
    let fw = env.sim.seed_tagged_firewall(
        &huge,
        &[
            "build_ai".to_string(),
            format!("build_ai_app={huge}"),
            "build_ai_id=gone".into(),
        ],
        1,
    );
    env.sim.detach_firewall(fw);
    let out = env.run(&["status", "-V"], None).code(3);
    assert!(
        out.stdout.len() < 4000,
        "status -V printed {} bytes",
        out.stdout.len()
    );
    assert!(
        out.stdout.contains("xxxx…"),
        "{}",
        &out.stdout[..out.stdout.len().min(2000)]
    );
    let out = env.run(&["adopt", "--all"], None).ok();
    assert!(
        out.stdout.len() < 2000,
        "adopt printed {} bytes",
        out.stdout.len()
    );
    let out = env.run(&["destroy", "--all", "--yes"], None).ok();
    assert!(
        out.stdout.len() < 2000,
        "destroy printed {} bytes",
        out.stdout.len()
    );
}

/// Issue 16, item 9: adopt reads the reverse-DNS names from the account's
/// list of addresses, not with one request per instance.
#[test]
fn adopt_reads_the_account_in_a_few_requests() {
    let env = Env::new();
    for i in 0..60 {
        let tags = vec![
            "build_ai".to_string(),
            format!("build_ai_id=p{i}"),
            format!("build_ai_app=app{i}"),
            "build_ai_env=default".to_string(),
            "build_ai_template=chat-agent".to_string(),
        ];
        env.sim
            .seed_tagged(&format!("build-ai-app{i}-default-20261126T143000Z"), &tags);
    }
    let before = env.sim.requests().len();
    env.run(&["adopt", "--all"], None).ok();
    let requests = env.sim.requests().len() - before;
    assert!(requests <= 4, "{requests} requests for 60 instances");
    let records = env.records();
    assert_eq!(records.len(), 60);
    assert!(
        records.iter().all(|r| r["hostname"] == SERVED_NAME),
        "the name each serves: {}",
        records[0]
    );
    // A token that may not list the account's addresses: adopt does not need them.
    let b = env.other_machine();
    b.sim.add_fault(Fault::error(
        "GET",
        "/v4/networking/ips",
        403,
        "Unauthorized",
    ));
    b.run(&["adopt", "--all"], None).ok();
    let records = b.records();
    assert_eq!(records.len(), 60);
    assert!(records.iter().all(|r| r["hostname"] == SERVED_NAME));
    assert!(!b
        .sim
        .requests()
        .iter()
        .any(|r| r.path.ends_with("/ips") || r.path == "/v4/networking/ips"));
}

/// Issue 15 (review item 1): `deploy --replace` reports an old deployment
/// that went away while the new one was made (here the machine that made it
/// destroyed it), instead of dropping it without a word.
#[test]
fn replace_reports_an_old_deployment_destroyed_elsewhere_meanwhile() {
    let a = Env::new();
    let b = a.other_machine();
    // B's deployment: A sees it only through the account (untracked).
    b.run(&["deploy"], Some(&b.project("embeddings"))).ok();
    let old = b.records()[0]["deployment_id"]
        .as_str()
        .unwrap()
        .to_string();
    let dir = a.project("embeddings");
    let gate = a.sim.hold("POST", "/v4/linode/instances");
    let mut c = a.cmd(&["deploy", "--replace", "--json"], Some(&dir));
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let deploy = c.spawn().unwrap();
    wait_for("the create call", Duration::from_secs(30), || {
        gate.arrived() == 1
    });
    b.run(&["destroy", "--id", &old, "--yes"], None).ok();
    gate.open();
    let out = Run::from(deploy.wait_with_output().unwrap()).ok();
    let j = out.json();
    let replaced = j["replaced"].as_array().unwrap();
    assert_eq!(replaced.len(), 1, "{j}");
    assert_eq!(replaced[0]["deployment_id"], old.as_str(), "{j}");
    assert_eq!(replaced[0]["outcome"]["result"], "not_found", "{j}");
    assert_eq!(linode_ids(&a).len(), 1, "only the new one is left");
}

/// Issue 17 (expiry): `deploy --ttl` writes the expiry into a tag (any
/// machine sees it); `status` shows the time left, marks an expired
/// deployment and exits 3; `destroy --expired` removes only expired ones,
/// and with nothing expired says so and exits 0 (a cron line).
#[test]
fn an_expiry_is_tagged_shown_and_acted_on() {
    let env = Env::new();
    let dir = env.project("embeddings");
    for bad in ["8", "5m", "1.5h", "366d"] {
        let out = env
            .run(&["deploy", "--dry-run", "--ttl", bad], Some(&dir))
            .fails();
        assert!(out.stderr.contains("--ttl"), "{bad}: {}", out.stderr);
    }
    let out = env.run(&["deploy", "--ttl", "8h"], Some(&dir)).ok();
    assert!(out.stderr.contains("expires "), "{}", out.stderr);
    let tags = env.sim.instances()[0]["tags"].clone();
    let tag = tags
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .find(|t| t.starts_with("build_ai_expires="))
        .unwrap_or_else(|| panic!("no expiry tag in {tags}"))
        .to_string();
    assert!(tag.len() <= 50, "{tag}");
    assert!(env.records()[0]["expires_at"].is_string());
    // An expired one made elsewhere (only its tags say so).
    let expired = env.sim.seed_tagged(
        "build-ai-old",
        &[
            "build_ai".into(),
            "build_ai_app=old".into(),
            "build_ai_env=default".into(),
            "build_ai_template=embeddings".into(),
            "build_ai_template_version=0.2.0".into(),
            "build_ai_id=0f0e0d0c-0000-4000-8000-000000000001".into(),
            "build_ai_expires=20260101T0000Z".into(),
        ],
    );
    let j = env.run(&["status", "--json"], None).code(3).json();
    let rows = j["rows"].as_array().unwrap();
    let old = rows.iter().find(|r| r["app_name"] == "old").unwrap();
    let new = rows.iter().find(|r| r["app_name"] == "embeddings").unwrap();
    assert_eq!(old["expired"], true, "{j}");
    assert_eq!(new["expired"], false, "{j}");
    let text = env.run(&["status"], None).code(3).stdout;
    let old_line = text.lines().find(|l| l.starts_with("old ")).unwrap();
    assert!(
        old_line.contains("expired")
            && old_line.contains("EXPIRED")
            && !old_line.contains("untracked"),
        "the STATUS column says expired: {text}"
    );
    assert!(text.contains("expires in 7h "), "{text}");
    // A mistyped --app is an error, not a quiet "nothing has expired".
    let out = env
        .run(&["destroy", "--expired", "--app", "olld", "--yes"], None)
        .fails();
    assert!(out.stderr.contains("nothing matches"), "{}", out.stderr);
    assert_eq!(env.sim.instances().len(), 2);
    let out = env.run(&["destroy", "--expired", "--yes"], None).ok();
    assert!(out.stdout.contains("old"), "{}", out.stdout);
    let ids: Vec<u64> = env
        .sim
        .instances()
        .iter()
        .map(|i| i["id"].as_u64().unwrap())
        .collect();
    assert!(!ids.contains(&expired) && ids.len() == 1, "{ids:?}");
    let out = env.run(&["destroy", "--expired", "--yes"], None).ok();
    assert!(out.stdout.contains("Nothing has expired"), "{}", out.stdout);
    assert_eq!(env.sim.instances().len(), 1, "the unexpired one stays");
}

/// Issue 19 (your own domain): `--domain` in the account's DNS Manager gets
/// its A record from deploy and loses it on destroy; a record someone else
/// made for the name, and every other record, is left alone; a name outside
/// the account's zones is left to the user with a note saying what to do.
#[test]
fn a_domain_in_the_accounts_dns_gets_its_record_and_loses_it_on_destroy() {
    let env = Env::new();
    let zone = env.sim.seed_domain("example.com");
    let add = |name: &str, target: &str| {
        reqwest::blocking::Client::new()
            .post(format!("{}/domains/{zone}/records", env.sim.base_url()))
            .bearer_auth("test-token")
            .json(&serde_json::json!({"type": "A", "name": name, "target": target}))
            .send()
            .unwrap()
            .error_for_status()
            .unwrap();
    };
    add("www", "10.0.0.10");
    add("taken", "10.0.0.11");
    let names = || -> Vec<(String, String)> {
        env.sim
            .domain_records(zone)
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap_or_default().to_string(),
                    r["target"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    };

    let dir = env.project("embeddings");
    let out = env
        .run(&["deploy", "--domain", "Chat.Example.com"], Some(&dir))
        .ok();
    let ip = env.records()[0]["ipv4"].as_str().unwrap().to_string();
    assert!(
        out.stderr
            .contains(&format!("created the A record Chat.Example.com -> {ip}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("made in your DNS Manager"),
        "{}",
        out.stdout
    );
    let chat: Vec<serde_json::Value> = env
        .sim
        .domain_records(zone)
        .into_iter()
        .filter(|r| r["name"] == "chat")
        .collect();
    // The A record and, for the instance's IPv6 (the stand-in gives ::1), the AAAA record.
    assert_eq!(chat.len(), 2, "{:?}", names());
    let (a, aaaa) = (&chat[0], &chat[1]);
    assert_eq!(
        (&a["type"], &a["target"]),
        (&"A".into(), &ip.as_str().into())
    );
    assert_eq!(
        (&aaaa["type"], &aaaa["target"]),
        (&"AAAA".into(), &"::1".into())
    );
    assert_eq!(a["ttl_sec"], 300);
    assert!(
        out.stderr
            .contains("created the AAAA record Chat.Example.com -> ::1"),
        "{}",
        out.stderr
    );
    assert_eq!(env.records()[0]["dns_records"][0]["record_id"], a["id"]);
    assert_eq!(env.records()[0]["dns_records"][1]["record_id"], aaaa["id"]);
    // Their ids are in a tag on the instance and the firewall (what another machine reads),
    // set with bodies the official spec accepts.
    let tag = |r: &serde_json::Value| format!("build_ai_dns={zone}.{}", r["id"]);
    let puts: Vec<_> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 2, "{puts:?}");
    for p in &puts {
        let name = if p.path.contains("/linode/instances/") {
            "PUT /linode/instances/{linodeId}"
        } else {
            "PUT /networking/firewalls/{firewallId}"
        };
        let body = p.body.clone().unwrap();
        let errors = spec_errors(name, &body);
        assert!(errors.is_empty(), "{name}: {errors:?}");
        let tags: Vec<String> = serde_json::from_value(body["tags"].clone()).unwrap();
        assert!(
            tags.contains(&tag(a)) && tags.contains(&tag(aaaa)),
            "{tags:?}"
        );
        assert!(
            tags.contains(&"build_ai_app=embeddings".to_string()),
            "the old tags stay: {tags:?}"
        );
    }
    assert!(env.sim.instances()[0]["tags"]
        .as_array()
        .unwrap()
        .contains(&tag(a).into()));

    // Someone else's record for the name: not touched, and said.
    let out = env
        .run(
            &["deploy", "--domain", "taken.example.com"],
            Some(&env.project("chat-agent")),
        )
        .ok();
    assert!(
        out.stderr.contains("already points at 10.0.0.11"),
        "{}",
        out.stderr
    );
    assert!(out
        .stdout
        .contains("point an A record for taken.example.com"));
    // A name in no zone of the account: what to do.
    let out = env
        .run(
            &["deploy", "--domain", "chat.elsewhere.net"],
            Some(&env.project("chat-webui")),
        )
        .ok();
    assert!(
        out.stderr
            .contains("is not in a zone of your Linode DNS Manager"),
        "{}",
        out.stderr
    );
    assert_eq!(names().len(), 4, "{:?}", names());
    // A record someone made that already points at the new address: kept on destroy.
    add("same", &ip);
    let out = env
        .run(
            &["deploy", "--domain", "same.example.com"],
            Some(&env.project("llm-api")),
        )
        .ok();
    assert!(
        out.stderr
            .contains("already exists in your DNS zone example.com; linode-ai did not make it"),
        "{}",
        out.stderr
    );
    env.run(&["destroy", "--app", "llm-api", "--yes"], None)
        .ok();
    assert!(
        names().contains(&("same".into(), ip.clone())),
        "{:?}",
        names()
    );

    // --replace onto the same address (the stand-in gives every Linode one):
    // the new deployment takes the record over, the old one's destroy keeps it.
    env.run(
        &["deploy", "--replace", "--domain", "chat.example.com"],
        Some(&dir),
    )
    .ok();
    let chat = names().into_iter().filter(|(n, _)| n == "chat").count();
    assert_eq!(chat, 2, "{:?}", names());
    // Destroy removes the records it made, and only those, from another
    // machine too (which knows them from the tags alone).
    env.other_machine()
        .run(&["destroy", "--app", "embeddings", "--yes"], None)
        .ok();
    let left = names();
    assert!(!left.iter().any(|(n, _)| n == "chat"), "{left:?}");
    assert!(
        left.contains(&("www".into(), "10.0.0.10".into())),
        "{left:?}"
    );
    assert!(
        left.contains(&("taken".into(), "10.0.0.11".into())),
        "{left:?}"
    );

    // The Linode deleted by hand (in Cloud Manager): its firewall is left,
    // and its tag still names the records, which another machine's destroy
    // of that firewall removes (they point at a freed address).
    env.run(
        // (No cache volume: with one, a Linode deleted by hand leaves a parked deployment.)
        &[
            "deploy",
            "--env",
            "lab",
            "--domain",
            "lab.example.com",
            "--no-cache",
        ],
        Some(&env.project("chat-webui")),
    )
    .ok();
    assert_eq!(
        names().iter().filter(|(n, _)| n == "lab").count(),
        2,
        "{:?}",
        names()
    );
    let id = env.records().last().unwrap()["linode_id"].as_u64().unwrap();
    let fw = env.records().last().unwrap()["firewall"]["id"].to_string();
    reqwest::blocking::Client::new()
        .delete(format!("{}/linode/instances/{id}", env.sim.base_url()))
        .bearer_auth("test-token")
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();
    // The API lets go of the firewall a moment after the Linode is deleted.
    let attached = || {
        reqwest::blocking::Client::new()
            .get(format!("{}/networking/firewalls/{fw}", env.sim.base_url()))
            .bearer_auth("test-token")
            .send()
            .unwrap()
            .json::<serde_json::Value>()
            .unwrap()["entities"]
            .as_array()
            .is_some_and(|e| !e.is_empty())
    };
    let t0 = std::time::Instant::now();
    while attached() {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "firewall {fw} stays attached"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = env
        .other_machine()
        // (A firewall this young may be a deploy in progress: only deleted when named.)
        .run(&["destroy", "--id", &fw, "--yes"], None)
        .ok();
    assert!(out.stdout.contains("firewall"), "{}", out.stdout);
    assert!(!names().iter().any(|(n, _)| n == "lab"), "{:?}", names());
}

/// Issue 17: a template with `cache_gb` gets a cache volume, created
/// attached to the new Linode with the deployment's tags (a body the
/// official spec accepts), priced in the plan and in `status`; destroy
/// deletes it, from another machine too, unless `--keep-volume`, after
/// which `status` lists it with its monthly price until it is destroyed.
#[test]
fn a_cache_volume_is_made_priced_and_removed_with_its_deployment() {
    let env = Env::new();
    let dir = env.project("chat-webui");
    let out = env.run(&["deploy", "--dry-run"], Some(&dir)).ok();
    assert!(
        out.stdout.contains("Cache:       new volume ai-cache-")
            && out.stdout.contains(", 20 GB, $2.00/month"),
        "{}",
        out.stdout
    );
    let out = env
        .run(&["deploy", "--dry-run", "--cache-gb", "5"], Some(&dir))
        .fails();
    assert!(out.stderr.contains("10-10240 GB"), "{}", out.stderr);
    let out = env
        .run(&["deploy", "--dry-run", "--no-cache"], Some(&dir))
        .ok();
    assert!(!out.stdout.contains("Cache:"), "{}", out.stdout);

    env.run(&["deploy", "--cache-gb", "30"], Some(&dir)).ok();
    let volumes = env.sim.volumes();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    let v = &volumes[0];
    let linode = env.sim.instances()[0]["id"].clone();
    assert_eq!((&v["size"], &v["linode_id"]), (&30.into(), &linode));
    let label = v["label"].as_str().unwrap().to_string();
    assert!(label.starts_with("ai-cache-"), "{label}");
    assert_eq!(
        v["tags"],
        env.sim.instances()[0]["tags"],
        "the deployment's tags"
    );
    let post = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/volumes"))
        .unwrap();
    let errors = spec_errors("POST /volumes", post.body.as_ref().unwrap());
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(env.records()[0]["cache_volume"]["id"], v["id"]);
    // The user-data mounts that volume.
    let instance_post = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/linode/instances"))
        .unwrap();
    let user_data = user_data(instance_post.body.as_ref().unwrap());
    assert!(user_data.contains("RequiresMountsFor=/mnt/linode-ai-cache"));
    let out = env.run(&["status"], None);
    assert!(
        out.stdout
            .contains("Cache volumes: 30 GB of Block Storage at $3.00/month"),
        "{}",
        out.stdout
    );

    // Destroy with --keep-volume: the Linode goes, the volume stays, listed with its price.
    env.run(
        &["destroy", "--app", "chat-webui", "--keep-volume", "--yes"],
        None,
    )
    .ok();
    assert!(env.sim.instances().is_empty());
    let id = v["id"].to_string();
    let kept = || env.sim.volumes().iter().any(|x| x["id"].to_string() == id);
    assert!(kept());
    let wait_detached = || {
        let t0 = std::time::Instant::now();
        while env.sim.volumes().iter().any(|x| !x["linode_id"].is_null()) {
            assert!(
                t0.elapsed() < std::time::Duration::from_secs(60),
                "still attached"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    wait_detached();
    // A kept volume is a parked deployment (what `resume` brings back).
    let out = env.run(&["status", "-V"], None);
    assert_eq!(out.code, 0, "parked on purpose: {}", out.stdout);
    assert!(
        out.stdout.contains("parked")
            && out
                .stdout
                .contains(&format!("cache volume {id} (30 GB, $3.00/month) kept")),
        "{}",
        out.stdout
    );
    let _ = &label;
    // From another machine, by its id.
    env.other_machine()
        .run(&["destroy", "--id", &id, "--yes"], None)
        .ok();
    assert!(!kept());

    // A plain destroy (from another machine, which knows it by its tags) deletes it too.
    env.run(&["deploy"], Some(&dir)).ok();
    assert_eq!(env.sim.volumes().len(), 1);
    let out = env
        .other_machine()
        .run(&["destroy", "--app", "chat-webui", "--yes"], None)
        .ok();
    assert!(
        out.stdout.contains("and its cache volume"),
        "{}",
        out.stdout
    );
    assert!(env.sim.volumes().is_empty(), "{:?}", env.sim.volumes());
}

/// Issue 17: `park` deletes the Linode and keeps the cache volume, the
/// firewall and the record (`parked`, with what it still costs); `resume`
/// makes a new Linode on them with the same deployment id. From another
/// machine too; a deployment without a cache volume cannot be parked.
#[test]
fn park_keeps_the_volume_and_resume_comes_back_on_it() {
    let env = Env::new();
    let dir = env.project("chat-webui");
    // Flags of the deploy that the project does not hold: resume serves them again.
    env.run(
        &[
            "deploy",
            "--domain",
            "chat.example.org",
            "--model",
            "qwen2.5:0.5b",
        ],
        Some(&dir),
    )
    .ok();
    let first = env.sim.instances()[0].clone();
    let volume = env.sim.volumes()[0]["id"].clone();
    let firewall = env.records()[0]["firewall"]["id"].clone();
    let deployment = env.records()[0]["deployment_id"].clone();

    let out = env
        .run(&["park", "--app", "chat-webui", "--yes"], None)
        .ok();
    assert!(
        out.stdout
            .contains("parked: the Linode is deleted; cache volume"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("($2.00/month)"), "{}", out.stdout);
    assert!(env.sim.instances().is_empty(), "the Linode is gone");
    assert_eq!(env.sim.volumes().len(), 1, "the volume stays");
    let fw_kept = || {
        reqwest::blocking::Client::new()
            .get(format!(
                "{}/networking/firewalls/{firewall}",
                env.sim.base_url()
            ))
            .bearer_auth("test-token")
            .send()
            .unwrap()
            .status()
            .is_success()
    };
    assert!(fw_kept(), "the firewall stays");
    assert_eq!(env.records()[0]["last_status"], "parked");
    assert!(env.records()[0]["linode_id"].is_null());

    // status, here and on another machine: parked, at the volume's price, exit 0.
    for e in [&env, &env.other_machine()] {
        let out = e.run(&["status", "-V"], None);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains("parked"), "{}", out.stdout);
        assert!(out.stdout.contains("$2.00/month"), "{}", out.stdout);
        assert!(
            !out.stdout.contains("orphaned firewall"),
            "the firewall is the parked deployment's: {}",
            out.stdout
        );
    }
    // A new deploy of the parked app/env asks first, and says resume is there.
    let out = env.run(&["deploy"], Some(&dir)).fails();
    assert!(
        out.stderr
            .contains("parked, its cache volume kept ('linode-ai resume'"),
        "{}",
        out.stderr
    );
    // Parking again: nothing to do; a template without a cache volume cannot be parked.
    let out = env
        .run(&["park", "--app", "chat-webui", "--yes"], None)
        .ok();
    assert!(out.stdout.contains("already parked"), "{}", out.stdout);
    env.run(&["deploy"], Some(&env.project("embeddings"))).ok();
    let before = env.sim.instances().len();
    let out = env
        .run(&["park", "--app", "embeddings", "--yes"], None)
        .fails();
    assert!(
        out.stderr.contains("cannot park what has no cache volume"),
        "{}",
        out.stderr
    );
    assert_eq!(env.sim.instances().len(), before, "nothing deleted");

    // resume, from the project: a new Linode with the same deployment id, the kept
    // firewall and the kept volume attached (nothing new made).
    let out = env.run(&["resume", "--dry-run"], Some(&dir)).ok();
    assert!(
        out.stdout
            .contains(&format!("Cache:       volume {volume} (")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("Firewall:    {firewall}")),
        "{}",
        out.stdout
    );
    env.run(&["resume", "--yes"], Some(&dir)).ok();
    let now: Vec<_> = env
        .sim
        .instances()
        .into_iter()
        .filter(|i| i["tags"].to_string().contains("build_ai_app=chat-webui"))
        .collect();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0]["id"], first["id"], "a new Linode");
    assert!(now[0]["tags"]
        .to_string()
        .contains(&format!("build_ai_id={}", deployment.as_str().unwrap())));
    let t0 = std::time::Instant::now();
    while env.sim.volumes()[0]["linode_id"] != now[0]["id"] {
        assert!(
            t0.elapsed() < std::time::Duration::from_secs(60),
            "{:?}",
            env.sim.volumes()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(env.sim.volumes().len(), 1, "no new volume");
    let create = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/linode/instances"))
        .last()
        .unwrap();
    assert_eq!(
        create.body.as_ref().unwrap()["firewall_id"],
        firewall,
        "the kept firewall"
    );
    let attach = env
        .sim
        .requests()
        .into_iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/attach"))
        .unwrap();
    let errors = spec_errors(
        "POST /volumes/{volumeId}/attach",
        attach.body.as_ref().unwrap(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    let rec = env
        .records()
        .into_iter()
        .find(|r| r["app_name"] == "chat-webui")
        .unwrap();
    assert_eq!(rec["deployment_id"], deployment);
    assert_eq!(rec["linode_id"], now[0]["id"]);
    assert_eq!(rec["domain"], "chat.example.org");
    assert_eq!(rec["public_env"]["OLLAMA_MODEL"], "qwen2.5:0.5b");
    // Nothing parked any more: resume says so.
    let out = env.run(&["resume", "--yes"], Some(&dir)).fails();
    assert!(
        out.stderr.contains("is not parked (it has a Linode)"),
        "{}",
        out.stderr
    );

    // Parked from another machine: this machine's record says parked too, and resume works here.
    env.other_machine()
        .run(&["park", "--app", "chat-webui", "--yes"], None)
        .ok();
    let out = env.run(&["status"], None);
    assert!(out.stdout.contains("parked"), "{}", out.stdout);
    env.run(&["resume", "--yes"], Some(&dir)).ok();
    // park --expired (a cron line): the expired one is parked, nothing else.
    let inst = env
        .sim
        .instances()
        .into_iter()
        .find(|i| i["tags"].to_string().contains("build_ai_app=chat-webui"))
        .unwrap();
    let mut tags: Vec<String> = serde_json::from_value(inst["tags"].clone()).unwrap();
    tags.retain(|t| !t.starts_with("build_ai_expires="));
    tags.push("build_ai_expires=20260101T0000Z".into());
    reqwest::blocking::Client::new()
        .put(format!(
            "{}/linode/instances/{}",
            env.sim.base_url(),
            inst["id"]
        ))
        .bearer_auth("test-token")
        .json(&serde_json::json!({ "tags": tags }))
        .send()
        .unwrap()
        .error_for_status()
        .unwrap();
    let out = env.run(&["park", "--expired", "--yes"], None).ok();
    assert!(
        out.stdout.contains("chat-webui") && out.stdout.contains("parked:"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("embeddings"),
        "only the expired one: {}",
        out.stdout
    );
    assert!(!env.sim.instances().iter().any(|i| i["id"] == inst["id"]));
    // destroy of a parked deployment takes the volume and the firewall.
    env.run(&["destroy", "--app", "chat-webui", "--yes"], None)
        .ok();
    assert!(env.sim.volumes().is_empty(), "{:?}", env.sim.volumes());
    assert!(!fw_kept(), "the firewall went with it");
    assert!(!env.registry().to_string().contains("chat-webui"));
}

/// Issue 17: `image build --gpu` makes a GPU base Image the way the real API
/// allows it (the watchdog turned off with a PUT before the first boot, the
/// capture from the powered-off Linode's ext4 disk), deletes the build Linode
/// and its firewall, and llm-api deploys start from the Image; a build that
/// never powers off is given up and leaves nothing; one cut short by kill -9
/// is in `status` and `destroy` removes it.
#[test]
fn a_gpu_base_image_is_built_used_and_cleaned_up() {
    let env = Env::with(SimConfig {
        provisioning_ms: 200,
        booting_ms: 200,
        self_poweroff_ms: Some(300),
        ..Default::default()
    });
    let out = env.run(&["image", "build", "--gpu", "--yes"], None).ok();
    assert!(
        out.stdout.contains("GPU base Image ready: private/"),
        "{}",
        out.stdout
    );
    let requests = env.sim.requests();
    let create = env.posts()[0].clone();
    assert_eq!(create["booted"], false, "{create}");
    assert!(create.get("watchdog_enabled").is_none());
    assert_eq!(create["type"], "g2-gpu-rtx4000a1-s");
    let linode_id = env
        .sim
        .requests()
        .iter()
        .find(|r| r.method == "PUT" && r.path.starts_with("/v4/linode/instances/"))
        .map(|r| r.path.clone())
        .expect("the watchdog PUT");
    let order: Vec<String> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| format!("{} {}", r.method, r.path.trim_start_matches("/v4")))
        .collect();
    let at = |needle: &str| {
        order
            .iter()
            .position(|r| r.starts_with(needle))
            .unwrap_or_else(|| panic!("{needle} in {order:#?}"))
    };
    assert!(at("POST /networking/firewalls") < at("POST /linode/instances"));
    assert!(at("POST /linode/instances") < at("PUT /linode/instances/"));
    assert!(
        at("PUT /linode/instances/")
            < at(&format!(
                "POST {}/boot",
                linode_id.trim_start_matches("/v4")
            ))
    );
    assert!(at("POST /images") < at("DELETE /linode/instances/"));
    assert!(at("DELETE /linode/instances/") < at("DELETE /networking/firewalls/"));
    let put = requests
        .iter()
        .find(|r| r.method == "PUT")
        .and_then(|r| r.body.clone())
        .unwrap();
    assert_eq!(put, serde_json::json!({"watchdog_enabled": false}));
    let capture = env.posts_to("/v4/images")[0].clone();
    assert_eq!(capture["cloud_init"], true);
    assert!(capture["tags"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!("build_ai_gpu_base=580-server")));
    // Every body the build sent, checked against the official spec.
    for r in requests.iter().filter(|r| r.body.is_some()) {
        let name = match (r.method.as_str(), r.path.trim_start_matches("/v4")) {
            ("POST", "/images") => "POST /images",
            ("POST", "/linode/instances") => "POST /linode/instances",
            ("POST", "/networking/firewalls") => "POST /networking/firewalls",
            ("PUT", p) if p.starts_with("/linode/instances/") => "PUT /linode/instances/{linodeId}",
            (m, p) => panic!("unexpected body for {m} {p}"),
        };
        let errors = spec_errors(name, r.body.as_ref().unwrap());
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    assert!(env.sim.instances().is_empty() && env.sim.firewalls().is_empty());
    let images = env.sim.images();
    assert_eq!(images.len(), 1);
    let image_id = images[0]["id"].as_str().unwrap().to_string();
    let out = env.run(&["image", "list"], None).ok();
    assert!(
        out.stdout.contains(&image_id) && out.stdout.contains("driver 580-server on ubuntu24.04"),
        "{}",
        out.stdout
    );

    // llm-api starts from it, and says so; the same user-data.
    let dir = env.project("llm-api");
    let plan = env.dry_run_json(&dir);
    assert_eq!(plan["request"]["body"]["image"], image_id, "{plan}");
    assert!(
        plan["notes"].to_string().contains("no driver install"),
        "{plan}"
    );
    env.run(&["deploy", "--yes"], Some(&dir)).ok();
    let post = env.posts().last().unwrap().clone();
    assert_eq!(post["image"], image_id);
    env.run(&["destroy", "--yes"], None).ok();

    // Deleted: deploys install the driver again.
    env.run(&["image", "delete", &image_id, "--yes"], None).ok();
    assert!(env.sim.images().is_empty());
    let plan = env.dry_run_json(&dir);
    assert_eq!(plan["request"]["body"]["image"], "linode/ubuntu24.04");
    assert!(
        plan["notes"].to_string().contains("image build --gpu"),
        "{plan}"
    );
    let out = env
        .run(&["image", "delete", "linode/ubuntu24.04", "--yes"], None)
        .fails();
    assert!(
        out.stderr.contains("not a linode-ai GPU base Image"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_gpu_image_build_that_never_ends_is_given_up_or_shown() {
    // The boot script never powers off (a failed install): given up after
    // the timeout, and nothing is left.
    let env = Env::new();
    let out = env
        .run(
            &["image", "build", "--gpu", "--yes", "--timeout", "2"],
            None,
        )
        .fails();
    assert!(
        out.stderr.contains("did not power off within 2 s")
            && out.stderr.contains("its Linode and firewall are deleted"),
        "{}",
        out.stderr
    );
    assert!(env.sim.instances().is_empty() && env.sim.firewalls().is_empty());
    assert!(env.sim.images().is_empty());

    // kill -9 mid-build: the Linode and firewall are in `status` (with an
    // expiry) and `destroy --app gpu-image` removes them, from any machine.
    let env = Env::new();
    let mut c = env.cmd(&["image", "build", "--gpu", "--yes"], None);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut build = c.spawn().unwrap();
    wait_for("the build Linode", Duration::from_secs(10), || {
        env.sim
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/boot"))
    });
    build.kill().unwrap();
    build.wait().unwrap();
    let other = env.other_machine();
    let j = other.run(&["status", "--json"], None).json();
    let rows = j["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{j}");
    assert_eq!(rows[0]["app_name"], "gpu-image", "{j}");
    assert!(rows[0]["expires_at"].is_string(), "{j}");
    other
        .run(&["destroy", "--app", "gpu-image", "--yes"], None)
        .ok();
    assert!(env.sim.instances().is_empty() && env.sim.firewalls().is_empty());
}

/// Issue 17: `kill -9` at each step of `park` and `resume` (the request on
/// its way lands or is lost) leaves nothing that `status` does not show:
/// here and on another machine status reads the account, and `destroy`
/// then removes every Linode, volume and firewall there is.
#[test]
fn kill_9_at_each_park_and_resume_step_leaves_nothing_unseen() {
    let steps: [(&str, &str, &str, bool); 5] = [
        ("park", "DELETE", "/v4/linode/instances/", true),
        ("park", "DELETE", "/v4/linode/instances/", false),
        ("resume", "POST", "/v4/linode/instances", true),
        ("resume", "POST", "/v4/linode/instances", false),
        ("resume", "POST", "/v4/volumes/", true),
    ];
    for (cmd, method, path, lands) in steps {
        let what = format!(
            "{cmd}: {method} {path} {}",
            if lands { "lands" } else { "is lost" }
        );
        let env = Env::new();
        let dir = env.project("chat-agent");
        env.run(&["deploy"], Some(&dir)).ok();
        if cmd == "resume" {
            env.run(&["park", "--yes"], None).ok();
        }
        let before = env.sim.requests().len();
        env.sim.add_fault(Fault {
            method: method.into(),
            path: path.into(),
            delay_before_ms: 1500,
            status: if lands { 0 } else { 500 },
            reason: "lost".into(),
            ..Default::default()
        });
        let mut c = env.cmd(&[cmd, "--yes"], Some(&dir));
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        let sent = || {
            env.sim.requests()[before..]
                .iter()
                .any(|r| r.method == method && r.path.starts_with(path))
        };
        wait_for(&what, Duration::from_secs(20), sent);
        child.kill().unwrap();
        child.wait().unwrap();
        if lands {
            // The request the killed run sent still lands.
            wait_for(
                &format!("{what}: its effect"),
                Duration::from_secs(20),
                || match (cmd, method) {
                    ("park", _) => env.sim.instances().is_empty(),
                    ("resume", "POST") if path == "/v4/linode/instances" => {
                        !env.sim.instances().is_empty()
                    }
                    _ => env.sim.volumes()[0]["linode_id"].is_u64(),
                },
            );
        }
        assert_status_sees_one(&env, &what);
        let out = env.run(&["destroy", "--all", "--yes"], None);
        assert_eq!(out.code, 0, "{what}: {}{}", out.stdout, out.stderr);
        assert!(
            env.sim.instances().is_empty()
                && env.sim.volumes().is_empty()
                && env.sim.firewalls().is_empty(),
            "{what}: left {:?} {:?} {:?}",
            env.sim.instances(),
            env.sim.volumes(),
            env.sim.firewalls()
        );
    }
}
