// Front-end of dicom_widgets.widgets._frame_cache.FrameCache (an anywidget ESM module).
//
// The kernel sends the viewer's rendered frames (PNG, exactly the bytes ipympl receives)
// for the current slice and its neighbours, tagged with a generation that changes whenever
// anything but the slice index changes. This module decodes them ahead of time and, when
// the slider moves (it listens to the slider's own model in the browser: no kernel involved,
// and no message of its own for the kernel), paints the cached frame on a canvas laid over
// ipympl's, in the same animation frame. ipympl's canvas underneath gets the same picture
// from the kernel once the steps settle (SETTLE_S in _viewer_frames.py).

function frameOverlay(el) {
  const root = el.closest(".dw-series-viewer");
  const host = root && root.querySelector(".jupyter-matplotlib-canvas-div");
  const main = host && host.querySelector("canvas");
  if (!main) return null;
  let overlay = host.querySelector(":scope > canvas.dw-frame-overlay");
  if (!overlay) {
    overlay = document.createElement("canvas");
    overlay.className = "dw-frame-overlay";
    // Above ipympl's image (z-index 0, earlier in the DOM), below its rubber band canvas
    // (z-index 1); mouse events go through to ipympl (hover readout, wheel, drag).
    overlay.style.cssText =
      "display: none; position: absolute; left: 0px; top: 0px; z-index: 0; pointer-events: none;";
    main.insertAdjacentElement("afterend", overlay);
  }
  return { main, overlay };
}

// One store of decoded frames per model, shared by its views (a widget shown twice).
const stores = new WeakMap();

// The slice shown is the value of the viewer's slider, whose model is referenced by the
// ``slider`` trait ("IPY_MODEL_<id>"). Listening to it directly, rather than through a
// jsdlink to a trait of our own, spares every step a second message to the kernel (the
// link would save the copied value) sent inside the key press's task.
function bindSlider(model, store) {
  if (store.unbind) store.unbind();
  store.unbind = null;
  const ref = model.get("slider");
  if (!ref) return;
  const id = String(ref).replace(/^IPY_MODEL_/, "");
  Promise.resolve(model.widget_manager.get_model(id)).then((slider) => {
    if (!slider || model.get("slider") !== ref) return;
    const onValue = () => {
      store.index = slider.get("value");
      for (const painter of store.painters) painter.moved();
    };
    slider.on("change:value", onValue);
    store.unbind = () => slider.off("change:value", onValue);
    onValue();
  });
}

function storeFor(model) {
  let store = stores.get(model);
  if (store) return store;
  store = { frames: new Map(), generation: -1, painters: new Set(), index: 0, unbind: null };
  stores.set(model, store);
  bindSlider(model, store);
  model.on("change:slider", () => bindSlider(model, store));
  const evict = () => {
    const capacity = model.get("capacity");
    const { frames } = store;
    if (frames.size <= capacity) return;
    const index = store.index;
    const far = [...frames.keys()].sort((a, b) => Math.abs(b - index) - Math.abs(a - index));
    for (const key of far.slice(0, frames.size - capacity)) {
      frames.get(key).close();
      frames.delete(key);
    }
  };
  model.on("msg:custom", async (msg, buffers) => {
    if (msg.type !== "frame" || msg.generation < store.generation) return;
    const data = buffers[0];
    const blob = new Blob([data instanceof DataView ? data.buffer : data], { type: "image/png" });
    const bitmap = await createImageBitmap(blob);
    if (msg.generation < store.generation) {
      bitmap.close(); // overtaken while decoding
      return;
    }
    if (msg.generation > store.generation) {
      // A new look (window, colormap, overlays, zoom...): the old frames are stale.
      for (const old of store.frames.values()) old.close();
      store.frames.clear();
      store.generation = msg.generation;
    }
    const previous = store.frames.get(msg.index);
    if (previous) previous.close();
    store.frames.set(msg.index, bitmap);
    evict();
    for (const painter of store.painters) painter.arrived(msg.index);
  });
  // Frames sent before this model existed in the browser went nowhere: ask for them.
  model.send({ type: "ready" });
  return store;
}

function render({ model, el }) {
  el.classList.add("dw-frame-cache");
  el.style.display = "none";
  const store = storeFor(model);
  let shown = null; // [generation, index] on the overlay
  let parts = null;

  function paint() {
    if (!parts || !parts.overlay.isConnected) parts = frameOverlay(el);
    if (!parts) return false;
    const index = store.index;
    el.dataset.index = String(index);
    el.dataset.generation = String(store.generation);
    el.dataset.frames = String(store.frames.size);
    if (!model.get("enabled")) {
      parts.overlay.style.display = "none";
      shown = null;
      return true;
    }
    const bitmap = store.frames.get(index);
    if (!bitmap) return true; // keep the last picture until the kernel's frame arrives
    if (shown && shown[0] === store.generation && shown[1] === index) return true;
    const { main, overlay } = parts;
    if (overlay.width !== bitmap.width) overlay.width = bitmap.width;
    if (overlay.height !== bitmap.height) overlay.height = bitmap.height;
    overlay.style.width = main.style.width || `${main.clientWidth}px`;
    overlay.style.height = main.style.height || `${main.clientHeight}px`;
    const context = overlay.getContext("2d");
    context.clearRect(0, 0, overlay.width, overlay.height);
    context.drawImage(bitmap, 0, 0);
    overlay.style.display = "block";
    shown = [store.generation, index];
    el.dataset.shown = `${store.generation}:${index}`;
    return true;
  }

  // ipympl may render its view after this one: look again on the next frames.
  let tries = 0;
  const attach = () => {
    if (!paint() && tries++ < 600) requestAnimationFrame(attach);
  };
  attach();

  const painter = {
    // A decoded frame arrived: paint it if it is the slice shown.
    arrived(index) {
      el.dataset.frames = String(store.frames.size);
      if (index === store.index) paint();
    },
    // The slider moved.
    moved: paint,
  };
  const onChange = () => paint();
  store.painters.add(painter);
  model.on("change:enabled", onChange);
  return () => {
    store.painters.delete(painter);
    model.off("change:enabled", onChange);
    if (parts && parts.overlay.isConnected) parts.overlay.remove();
  };
}

export default {
  initialize({ model }) {
    const store = storeFor(model);
    return () => {
      if (store.unbind) store.unbind();
    };
  },
  render,
};
