//! The web page of `attend serve` in headless Chromium, driven over the W3C
//! WebDriver protocol by Debian's `chromium-driver`: it loads the page,
//! translates a sentence and checks the translation and every heatmap cell
//! against the API's own answer, classifies a surname and checks the shaded
//! tokens and the class bars, shows an API error, and saves a desktop and a
//! phone-sized screenshot under `target/`.
//!
//! Without the browser the test fails (saying what to install) unless
//! `ATTEND_SKIP_BROWSER=1` is set, when it says loudly that it was skipped.
//!
//! The WebDriver client is `fantoccini`, over plain HTTP to the
//! chromedriver on loopback, behind thin synchronous wrappers.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::key::Key;
use fantoccini::wd::Capabilities;
use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use common::server::{Server, agent, names_model, tutorial_model};

/// Debian's browser and driver (`ATTEND_CHROMIUM` and `ATTEND_CHROMEDRIVER`
/// name others).
fn chromium() -> String {
    std::env::var("ATTEND_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("ATTEND_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}
/// How long the page may take to show an answer.
const WAIT: Duration = Duration::from_secs(20);

type Check<T = ()> = Result<T, String>;

/// Fails the current step with a message (the browser is still closed).
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        let holds: bool = $cond;
        if !holds {
            return Err(format!($($msg)+));
        }
    };
}

/// `chromedriver` in its own process group, killed with the browsers it
/// started when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start(log: &Path) -> Driver {
        let port = {
            let listener = TcpListener::bind("127.0.0.1:0").expect("binding a free port");
            listener.local_addr().expect("local address").port()
        };
        let log_file = std::fs::File::create(log).expect("creating the chromedriver log");
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(chromedriver())
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("log handle"))
                .stderr(log_file)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver()))
        };
        let mut driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let start = Instant::now();
        loop {
            if let Ok(Some(exit)) = driver.child.try_wait() {
                panic!(
                    "chromedriver stopped ({exit}): {}",
                    std::fs::read_to_string(log).unwrap_or_default()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let status = agent().get(&format!("{}/status", driver.url)).call();
                if status.is_ok_and(|r| r.status().is_success()) {
                    return driver;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port} within 20 s: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group holds chromedriver and every Chromium process it started.
        let group = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on the process group this test created.
        unsafe {
            libc::kill(-group, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver session: fantoccini's client and the runtime it runs on.
struct Browser {
    // Declared before the runtime, so dropped while it still runs.
    client: fantoccini::Client,
    runtime: tokio::runtime::Runtime,
}

/// An element of the page.
struct Element<'a> {
    browser: &'a Browser,
    element: fantoccini::elements::Element,
}

impl Browser {
    fn start(driver: &Driver, profile: &Path) -> Check<Browser> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting a tokio runtime: {e}"))?;
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium(),
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    format!("--user-data-dir={}", profile.display()),
                    "--window-size=1200,900",
                ],
            }),
        );
        let client = runtime
            .block_on(
                ClientBuilder::new(HttpConnector::new())
                    .capabilities(caps)
                    .connect(&driver.url),
            )
            .map_err(|e| format!("starting a Chromium session: {e}"))?;
        Ok(Browser { client, runtime })
    }

    /// Runs one WebDriver command to its end.
    fn run<T>(&self, command: impl Future<Output = Result<T, CmdError>>) -> Check<T> {
        self.runtime.block_on(command).map_err(|e| e.to_string())
    }

    fn close(&self) -> Check {
        self.run(self.client.clone().close())
    }

    fn goto(&self, url: &str) -> Check {
        self.run(self.client.goto(url))
    }

    fn title(&self) -> Check<String> {
        self.run(self.client.title())
    }

    fn execute(&self, script: &str) -> Check<Value> {
        self.run(self.client.execute(script, vec![]))
            .map_err(|e| format!("{e}\n(script: {script})"))
    }

    fn element(&self, element: fantoccini::elements::Element) -> Element<'_> {
        Element {
            browser: self,
            element,
        }
    }

    fn find(&self, css: &str) -> Check<Element<'_>> {
        let found = self
            .run(self.client.find(Locator::Css(css)))
            .map_err(|e| format!("{css}: {e}"))?;
        Ok(self.element(found))
    }

    fn find_all(&self, css: &str) -> Check<Vec<Element<'_>>> {
        let found = self
            .run(self.client.find_all(Locator::Css(css)))
            .map_err(|e| format!("{css}: {e}"))?;
        Ok(found.into_iter().map(|e| self.element(e)).collect())
    }

    fn set_window_size(&self, width: u32, height: u32) -> Check {
        self.run(self.client.set_window_size(width, height))
    }

    /// A PNG of the viewport.
    fn screenshot(&self) -> Check<Vec<u8>> {
        self.run(self.client.screenshot())
    }

    /// Polls `script` (the body of a function) until it returns something
    /// other than null or false; its value.
    fn wait_js(&self, what: &str, script: &str) -> Check<Value> {
        let start = Instant::now();
        loop {
            let v = self.execute(script)?;
            if !(v.is_null() || v == Value::Bool(false)) {
                return Ok(v);
            }
            ensure!(
                start.elapsed() < WAIT,
                "timed out after {WAIT:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl<'a> Element<'a> {
    fn click(&self) -> Check {
        self.browser.run(self.element.click())
    }

    fn clear(&self) -> Check {
        self.browser.run(self.element.clear())
    }

    fn send_keys(&self, text: &str) -> Check {
        self.browser.run(self.element.send_keys(text))
    }

    fn text(&self) -> Check<String> {
        self.browser.run(self.element.text())
    }

    fn attr(&self, name: &str) -> Check<String> {
        self.browser
            .run(self.element.attr(name))?
            .ok_or_else(|| format!("no `{name}` attribute"))
    }

    fn prop(&self, name: &str) -> Check<String> {
        self.browser
            .run(self.element.prop(name))?
            .ok_or_else(|| format!("no `{name}` property"))
    }

    fn css(&self, name: &str) -> Check<String> {
        self.browser.run(self.element.css_value(name))
    }

    fn find_all(&self, css: &str) -> Check<Vec<Element<'a>>> {
        let found = self
            .browser
            .run(self.element.find_all(Locator::Css(css)))
            .map_err(|e| format!("{css}: {e}"))?;
        Ok(found.into_iter().map(|e| self.browser.element(e)).collect())
    }
}

/// Whether the browser is installed; fails or (with `ATTEND_SKIP_BROWSER=1`)
/// skips loudly when it is not.
fn browser_installed() -> bool {
    let missing: Vec<String> = [chromium(), chromedriver()]
        .into_iter()
        .filter(|p| !Path::new(p).is_file())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("ATTEND_SKIP_BROWSER").as_deref() == Ok("1") {
        // Straight to the process's stderr: the harness would hide a
        // passing test's eprintln!.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!!!! SKIPPED: the browser test of `attend serve`'s page did not run \
             ({} missing; ATTEND_SKIP_BROWSER=1) !!!!!!!!!!\n",
            missing.join(", ")
        );
        return false;
    }
    panic!(
        "the browser test needs {}: install Debian's `chromium` and `chromium-driver` \
         (apt-get install chromium chromium-driver), \
         or set ATTEND_SKIP_BROWSER=1 to skip it",
        missing.join(" and ")
    );
}

fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target")
}

#[test]
fn page_translates_and_classifies_in_headless_chromium() {
    if !browser_installed() {
        return;
    }
    let started = Instant::now();
    let _ = std::fs::remove_file(target_dir().join("serve-browser-failure.png"));
    let dir = tempfile::tempdir().unwrap();
    let tut = tutorial_model(dir.path());
    let names = names_model(dir.path());
    let server = Server::start(&[("fr-en", &tut), ("names", &names)], &[]);
    let log = dir.path().join("chromedriver.log");
    let driver = Driver::start(&log);
    let profile = dir.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).unwrap();

    let outcome = Browser::start(&driver, &profile).and_then(|browser| {
        let steps = run_steps(&browser, &server);
        if steps.is_err() {
            // What the page looked like when the check failed.
            let _ = save_screenshot(&browser, "serve-browser-failure.png");
        }
        // Close the session whatever happened, so Chromium exits cleanly.
        let closed = browser.close();
        steps.and(closed)
    });
    if let Err(e) = outcome {
        let log = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        panic!(
            "{e}\n(the last lines of chromedriver's log, newest first:\n{})",
            tail.join("\n")
        );
    }
    drop(driver);
    eprintln!(
        "browser test done in {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        target_dir().display()
    );
}

fn weight(s: &str) -> Check<f64> {
    s.parse::<f64>()
        .map_err(|e| format!("data-weight {s:?}: {e}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// The red, green and blue of a CSS `rgb(…)` or `rgba(…)` colour.
fn rgb(css: &str) -> Option<[u8; 3]> {
    let inner = css.split_once('(')?.1.strip_suffix(')')?;
    let parts: Vec<u8> = inner
        .split(',')
        .take(3)
        .map(|p| p.trim().parse().ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

fn save_screenshot(browser: &Browser, name: &str) -> Check {
    let png = browser.screenshot()?;
    ensure!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
    let path = target_dir().join(name);
    std::fs::create_dir_all(target_dir()).map_err(|e| e.to_string())?;
    std::fs::write(&path, png).map_err(|e| format!("{}: {e}", path.display()))
}

/// Chooses `value` in the `<select>` `css` as a user would.
fn choose(browser: &Browser, css: &str, value: &str) -> Check {
    browser.find(css)?.click()?;
    browser
        .find(&format!("{css} option[value='{value}']"))?
        .click()?;
    let chosen = browser.find(css)?.prop("value")?;
    ensure!(chosen == value, "{css} holds {chosen:?}, not {value}");
    Ok(())
}

fn run_steps(browser: &Browser, server: &Server) -> Check {
    browser.goto(&format!("{}/", server.url))?;
    browser.wait_js(
        "the models to load",
        "return document.body.dataset.ready === 'true';",
    )?;
    let title = browser.title()?;
    ensure!(title == "attend", "page title {title:?}");
    // Only the kinds served have a tab.
    let tabs = browser.execute(
        "return [...document.querySelectorAll('[role=tab]')].filter(t => !t.hidden).map(t => t.id);",
    )?;
    ensure!(
        strings(&tabs) == ["tab-translate", "tab-classify"],
        "visible tabs {tabs}"
    );

    translate(browser, server)?;
    classify(browser, server)?;
    phone(browser)
}

fn translate(browser: &Browser, server: &Server) -> Check {
    let sentence = "je suis content .";
    browser.find("#tab-translate")?.click()?;
    choose(browser, "#translate-model", "fr-en")?;
    let input = browser.find("#translate-input")?;
    input.clear()?;
    input.send_keys(sentence)?;
    // What the page sends, to ask the API the same question.
    let number = |css: &str| -> Check<u64> {
        let v = browser.find(css)?.prop("value")?;
        v.parse().map_err(|_| format!("{css} holds {v:?}"))
    };
    let beam = number("#translate-beam")?;
    let n_best = number("#translate-nbest")?;
    browser.find("#translate-button")?.click()?;

    let (status, answer) = server.post(
        "/v1/translate",
        &json!({"model": "fr-en", "text": sentence, "beam": beam, "n_best": n_best}),
    );
    ensure!(status == 200, "the API answered {status}: {answer}");
    let tr = &answer["translations"][0];
    let best = &tr["hypotheses"][0];
    let expected = tr["text"].as_str().unwrap_or_default().to_string();
    ensure!(
        !expected.is_empty(),
        "the API translated to nothing: {answer}"
    );

    let shown = browser.wait_js(
        "the translation",
        "const t = document.getElementById('translation').textContent; \
         return document.querySelectorAll('#heatmap td.cell').length ? t : null;",
    )?;
    ensure!(
        shown.as_str() == Some(expected.as_str()),
        "the page shows {shown} but the API translates {expected:?}"
    );

    // The n-best list: one entry per hypothesis, best first.
    let items = browser.find_all("#nbest button.hyp .hyp-text")?;
    let hyps = tr["hypotheses"].as_array().cloned().unwrap_or_default();
    ensure!(
        items.len() == hyps.len() && hyps.len() as u64 == n_best,
        "{} n-best entries, the API has {} (n_best {n_best})",
        items.len(),
        hyps.len()
    );
    for (item, hyp) in items.iter().zip(&hyps) {
        let text = item.text()?;
        ensure!(
            Some(text.as_str()) == hyp["text"].as_str(),
            "n-best entry {text:?} != {}",
            hyp["text"]
        );
    }

    // The heatmap: one row per output token (and <eos> when finished), one
    // column per source token, each cell the API's weight.
    let source = strings(&tr["source_tokens"]);
    let mut output = strings(&best["tokens"]);
    if best["finished"].as_bool() == Some(true) {
        output.push("<eos>".into());
    }
    let attention: Vec<Vec<f64>> = best["attention"]
        .as_array()
        .ok_or("the API gave no attention")?
        .iter()
        .map(|r| {
            r.as_array()
                .map(|r| r.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default()
        })
        .collect();
    ensure!(
        attention.len() == output.len(),
        "{} attention rows for {} output tokens",
        attention.len(),
        output.len()
    );
    let heads = browser.execute(
        "return [[...document.querySelectorAll('#heatmap thead th.src')].map(t => t.textContent), \
                 [...document.querySelectorAll('#heatmap tbody th.out')].map(t => t.textContent)];",
    )?;
    ensure!(
        strings(&heads[0]) == source,
        "column headers {} != {source:?}",
        heads[0]
    );
    ensure!(
        strings(&heads[1]) == output,
        "row headers {} != {output:?}",
        heads[1]
    );

    let rows = browser.find_all("#heatmap tbody tr")?;
    ensure!(
        rows.len() == output.len(),
        "{} heatmap rows, expected {}",
        rows.len(),
        output.len()
    );
    let mut cells_seen = 0;
    for (i, row) in rows.iter().enumerate() {
        let cells = row.find_all("td.cell")?;
        ensure!(
            cells.len() == source.len(),
            "row {i} has {} cells for {} source tokens",
            cells.len(),
            source.len()
        );
        let mut sum = 0.0;
        for (j, cell) in cells.iter().enumerate() {
            let w = weight(&cell.attr("data-weight")?)?;
            let want = attention[i][j];
            ensure!(
                (w - want).abs() <= 1e-4,
                "cell ({i}, {j}) holds {w}, the API says {want}"
            );
            let title = cell.attr("title")?;
            ensure!(
                title.ends_with(&format!("{want:.4}")),
                "cell ({i}, {j}) title {title:?} does not show {want:.4}"
            );
            sum += w;
            cells_seen += 1;
        }
        // A row is a distribution: over the source tokens, plus (for the
        // tutorial decoder's attention over fixed slots past the sentence)
        // the share outside them, shown in a column of its own.
        let outside = match row.find_all("td.rest")?.first() {
            Some(rest) => weight(&rest.attr("data-weight")?)?,
            None => 0.0,
        };
        ensure!(
            sum <= 1.0 + 1e-4 && (sum + outside - 1.0).abs() <= 1e-3,
            "row {i}: the cells sum to {sum}, {outside} outside"
        );
    }
    ensure!(
        cells_seen == output.len() * source.len(),
        "{cells_seen} cells, expected {} × {}",
        output.len(),
        source.len()
    );

    // The keyboard moves through the cells and the readout follows (the
    // results scrolled into view first, as the screenshot shows them).
    browser.execute(
        "document.getElementById('translate-result').scrollIntoView({block: 'end'}); return true;",
    )?;
    let first = browser.find("#heatmap td.cell[data-row='0'][data-col='0']")?;
    first.click()?;
    first.send_keys(&format!("{}{}", Key::Right, Key::Down))?;
    let focused = browser.execute(
        "const a = document.activeElement; \
         return [a.dataset.row, a.dataset.col, a.tabIndex, \
                 document.getElementById('heatmap-readout').textContent];",
    )?;
    ensure!(
        focused[0] == "1" && focused[1] == "1" && focused[2] == 0,
        "the arrow keys left the focus on {focused}"
    );
    let readout = focused[3].as_str().unwrap_or_default();
    ensure!(
        readout.contains(&format!("{:.4}", attention[1][1])) && readout.contains(&output[1]),
        "the readout says {readout:?}"
    );
    save_screenshot(browser, "serve-browser.png")?;

    // An empty text: the API's error, with its field, in the alert.
    input.clear()?;
    browser.find("#translate-button")?.click()?;
    let (status, error) = server.post("/v1/translate", &json!({"model": "fr-en", "text": ""}));
    ensure!(
        status == 422,
        "the API answered {status} to an empty text: {error}"
    );
    let message = error["error"]["message"].as_str().unwrap_or_default();
    let alert = browser.wait_js(
        "the error alert",
        "const a = document.getElementById('translate-error'); \
         return a.textContent ? [a.getAttribute('role'), a.textContent, \
           document.getElementById('translate-input').getAttribute('aria-invalid')] : null;",
    )?;
    let text = alert[1].as_str().unwrap_or_default();
    ensure!(
        alert[0] == "alert",
        "the error is not in a role=alert element: {alert}"
    );
    ensure!(
        text.contains(message) && text.contains("text") && text.contains("422"),
        "the alert says {text:?}, the API said {error}"
    );
    ensure!(
        alert[2] == "true",
        "the text area is not marked invalid: {alert}"
    );
    // The translation shown stays the last good one.
    let kept = browser.find("#translation")?.text()?;
    ensure!(kept == expected, "the translation became {kept:?}");
    Ok(())
}

fn classify(browser: &Browser, server: &Server) -> Check {
    let surname = "Nakamura";
    // The tabs answer the arrow keys.
    let tab = browser.find("#tab-translate")?;
    tab.click()?;
    tab.send_keys(&Key::Right)?;
    let state = browser.execute(
        "return [document.activeElement.id, \
                 document.getElementById('tab-classify').getAttribute('aria-selected'), \
                 document.getElementById('panel-classify').hidden, \
                 document.getElementById('panel-translate').hidden];",
    )?;
    ensure!(
        state == json!(["tab-classify", "true", false, true]),
        "after → on the tabs: {state}"
    );

    choose(browser, "#classify-model", "names")?;
    // Ctrl+Enter in the text area submits.
    let keys = format!("{surname}{}{}{}", Key::Control, Key::Enter, Key::Null);
    browser.find("#classify-input")?.send_keys(&keys)?;

    let (status, answer) = server.post("/v1/classify", &json!({"model": "names", "text": surname}));
    ensure!(status == 200, "the API answered {status}: {answer}");
    let p = &answer["predictions"][0];
    let label = p["label"].as_str().unwrap_or_default().to_string();
    let tokens = strings(&p["tokens"]);
    let attention: Vec<f64> = p["attention"]
        .as_array()
        .ok_or("the names model gave no attention")?
        .iter()
        .filter_map(Value::as_f64)
        .collect();
    let classes = p["classes"].as_array().cloned().unwrap_or_default();

    let shown = browser.wait_js(
        "the classification",
        "const l = document.getElementById('classify-label'); \
         return document.querySelectorAll('#tokens span.token').length ? l.dataset.label : null;",
    )?;
    ensure!(
        shown.as_str() == Some(label.as_str()),
        "the page shows class {shown}, the API says {label:?}"
    );
    let heading = browser.find("#classify-label")?.text()?;
    ensure!(heading.starts_with(&label), "the label reads {heading:?}");

    let spans = browser.find_all("#tokens span.token")?;
    ensure!(
        spans.len() == tokens.len() && tokens.len() == surname.len(),
        "{} token spans, the API has {} tokens",
        spans.len(),
        tokens.len()
    );
    let mut heaviest = (0usize, f64::MIN);
    for (i, span) in spans.iter().enumerate() {
        let text = span.text()?;
        ensure!(
            text == tokens[i],
            "token {i} reads {text:?}, the API has {:?}",
            tokens[i]
        );
        let w = weight(&span.attr("data-weight")?)?;
        ensure!(
            (w - attention[i]).abs() <= 1e-4,
            "token {i} weighs {w}, the API says {}",
            attention[i]
        );
        if w > heaviest.1 {
            heaviest = (i, w);
        }
        let bg = span.css("background-color")?;
        ensure!(
            rgb(&bg).is_some_and(|c| c != [255, 255, 255]),
            "token {i} is not shaded: {bg}"
        );
    }
    // The heaviest token is the most shaded one (full amber).
    let bg = spans[heaviest.0].css("background-color")?;
    ensure!(
        rgb(&bg) == Some([245, 158, 11]),
        "the heaviest token is {bg}"
    );

    let bars = browser.find_all("#classes li.class-row")?;
    ensure!(
        bars.len() == classes.len(),
        "{} class bars, the API has {} classes",
        bars.len(),
        classes.len()
    );
    let fills = browser.execute(
        "return [...document.querySelectorAll('#classes li.class-row')].map(li => \
           [li.querySelector('.class-label').textContent, \
            li.querySelector('.fill').getBoundingClientRect().width / \
              li.querySelector('.bar').getBoundingClientRect().width]);",
    )?;
    let fills = fills.as_array().cloned().unwrap_or_default();
    for (i, (row, class)) in fills.iter().zip(&classes).enumerate() {
        let p = class["probability"].as_f64().unwrap_or(-1.0);
        let share = row[1].as_f64().unwrap_or(-1.0);
        ensure!(
            row[0] == class["label"] && (share - p).abs() <= 0.01,
            "bar {i}: {row} for {class}"
        );
    }
    Ok(())
}

fn phone(browser: &Browser) -> Check {
    browser.set_window_size(390, 844)?;
    // One column, nothing wider than the screen (the heatmap scrolls in
    // its own box), on both panels.
    let layout = |panel: &str| -> Check {
        browser.find(&format!("#tab-{panel}"))?.click()?;
        let script = format!(
            "if (window.innerWidth > 600) return null; \
             const r = document.getElementById('{panel}-result'); \
             return [window.innerWidth, getComputedStyle(r).gridTemplateColumns.split(' ').length, \
                     document.documentElement.scrollWidth];"
        );
        let layout = browser.wait_js("the phone layout", &script)?;
        let width = layout[0].as_u64().unwrap_or(0);
        ensure!(
            layout[1] == 1,
            "{panel}: not one column on a phone: {layout}"
        );
        ensure!(
            layout[2].as_u64().unwrap_or(u64::MAX) <= width,
            "{panel}: the page scrolls sideways on a phone: {layout}"
        );
        Ok(())
    };
    layout("translate")?;
    let heatmap = browser.execute(
        "const s = document.getElementById('heatmap-scroll'); \
         return [s.scrollWidth, s.clientWidth, getComputedStyle(s).overflowX];",
    )?;
    ensure!(
        heatmap[2] == "auto",
        "the heatmap does not scroll sideways: {heatmap}"
    );
    layout("classify")?;
    browser.execute(
        "document.getElementById('classify-result').scrollIntoView({block: 'start'}); return true;",
    )?;
    save_screenshot(browser, "serve-browser-phone.png")
}
