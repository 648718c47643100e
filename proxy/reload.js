// devrun's reload script, put into each HTML page by its proxy: it listens
// to devrun's events, reloads the page once a new version answers, shows a
// failed build's output over the page, and restyles it when a stylesheet
// changes on disk.
(() => {
	// Once for each document, though htmx and the like run a page's
	// scripts again when they swap a whole page in.
	if (window.devrunReload) return;
	window.devrunReload = true;
	const me = document.currentScript;
	let version = (me && me.dataset.devrunVersion) || "";
	let box = null;
	const overlay = (text) => {
		if (!box) {
			box = document.createElement("devrun-overlay");
			const root = box.attachShadow({ mode: "open" });
			root.innerHTML = "<style>:host{all:initial;position:fixed;inset:0;z-index:2147483647;background:rgba(20,20,20,.92);color:#eee;overflow:auto}" +
				"h1{font:bold 16px system-ui,sans-serif;color:#ff7b72;margin:20px}p{font:13px system-ui,sans-serif;margin:0 20px;color:#aaa}" +
				"pre{font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;margin:16px 20px;white-space:pre-wrap}</style>" +
				"<h1>devrun: the build failed</h1><p>The previous version still serves. This goes away when a build succeeds.</p><pre></pre>";
			document.documentElement.appendChild(box);
		}
		box.shadowRoot.querySelector("pre").textContent = text;
	};
	const clear = () => {
		if (box) {
			box.remove();
			box = null;
		}
	};
	const restyle = (paths) => {
		const names = paths.map((p) => "/" + p.split("/").pop());
		const links = [...document.querySelectorAll('link[rel~="stylesheet"]')];
		let hit = links.filter((l) => names.some((n) => new URL(l.href, location.href).pathname.endsWith(n)));
		if (hit.length === 0) hit = links;
		for (const l of hit) {
			const u = new URL(l.href, location.href);
			u.searchParams.set("devrun", Date.now());
			const n = l.cloneNode();
			n.href = u.href;
			n.onload = n.onerror = () => l.remove();
			l.after(n);
		}
	};
	// A WebSocket to devrun's proxy, connected again a quarter of a
	// second after it closes (devrun restarting), until the page reloads.
	let leaving = false;
	const reload = () => {
		leaving = true;
		location.reload();
	};
	const connect = () => {
		const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/__devrun/events");
		ws.onmessage = (e) => {
			const m = JSON.parse(e.data);
			if (m.type === "state") {
				if (m.version && version && m.version !== version) return reload();
				if (m.version) version = m.version;
				m.error ? overlay(m.error) : clear();
			} else if (m.type === "css") {
				restyle(m.paths);
			} else if (m.type === "page") {
				reload();
			}
		};
		ws.onclose = () => {
			if (!leaving) setTimeout(connect, 250);
		};
	};
	connect();
})();
