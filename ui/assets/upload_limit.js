/* Too-large uploads get a message instead of vanishing.
 *
 * dcc.Upload drops a file above its max_size without telling anyone (no prop changes, so no
 * callback can notice). Each upload sits in a wrapper with data-max-bytes (its max_size),
 * data-message-id (the component that shows the message) and data-too-large (the message,
 * with {name} and {size} filled in here). A listener on the document sees the chosen or
 * dropped files first and writes the message with dash_clientside.set_props; files within
 * the limit go on to the server, which checks them itself.
 */
(function () {
    "use strict";

    function tooLarge(target, files) {
        var box = target && target.closest && target.closest("[data-max-bytes]");
        if (!box || !files || !files.length) {
            return;
        }
        var limit = Number(box.getAttribute("data-max-bytes"));
        var big = Array.prototype.filter.call(files, function (f) { return f.size > limit; });
        var clientside = window.dash_clientside;
        if (!big.length || !clientside || !clientside.set_props) {
            return;
        }
        var text = big.map(function (f) {
            return box.getAttribute("data-too-large")
                .replace("{name}", f.name)
                .replace("{size}", String(f.size));
        }).join("\n");
        clientside.set_props(box.getAttribute("data-message-id"), {
            children: {
                namespace: "dash_html_components",
                type: "Div",
                props: {children: text, className: "msg-error"},
            },
        });
    }

    document.addEventListener("change", function (event) {
        if (event.target && event.target.type === "file") {
            tooLarge(event.target, event.target.files);
        }
    }, true);
    document.addEventListener("drop", function (event) {
        tooLarge(event.target, event.dataTransfer && event.dataTransfer.files);
    }, true);
})();
