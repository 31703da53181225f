"""Run MediaPipe's original TFLite models through MediaPipe's own graph runtime, for parity checks.

The mediapipe wheel has no public TFLite interpreter API, but its CalculatorGraph does: ImageToTensorCalculator turns a
uint8 image of exactly the model's input size into the input tensor (identity warp, value * scale + offset), the
InferenceCalculator runs the .tflite file, and TensorsToFloatsCalculator hands every tensor (the input one included)
back as a float list, so a test can feed the very same tensor to the ONNX model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

_GRAPH = """
input_stream: "image"
output_stream: "input_floats"
{out_streams}
node {{
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image"
  output_stream: "TENSORS:input_tensors"
  options {{
    [mediapipe.ImageToTensorCalculatorOptions.ext] {{
      output_tensor_width: {width}
      output_tensor_height: {height}
      output_tensor_float_range {{ min: {lo} max: {hi} }}
    }}
  }}
}}
node {{
  calculator: "TensorsToFloatsCalculator"
  input_stream: "TENSORS:input_tensors"
  output_stream: "FLOATS:input_floats"
}}
node {{
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:input_tensors"
  output_stream: "TENSORS:output_tensors"
  options {{
    [mediapipe.InferenceCalculatorOptions.ext] {{
      model_path: "{model}"
      delegate {{ tflite {{}} }}
    }}
  }}
}}
node {{
  calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors"
  {split_outs}
  options {{
    [mediapipe.SplitVectorCalculatorOptions.ext] {{
      {ranges}
    }}
  }}
}}
{float_nodes}
"""


def run_tflite(
    model_path: str | Path, image_rgb: np.ndarray, value_range: tuple[float, float], n_outputs: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """(input tensor as (1, H, W, 3) float32, [flat float32 output per model output]) for one uint8 RGB image."""
    import mediapipe as mp
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2

    h, w = image_rgb.shape[:2]
    outs = "\n".join(f'output_stream: "out{i}"' for i in range(n_outputs))
    split = "\n  ".join(f'output_stream: "t{i}"' for i in range(n_outputs))
    ranges = " ".join(f"ranges: {{ begin: {i} end: {i + 1} }}" for i in range(n_outputs))
    floats = "\n".join(
        f'node {{ calculator: "TensorsToFloatsCalculator" input_stream: "TENSORS:t{i}" output_stream: "FLOATS:out{i}" }}'
        for i in range(n_outputs)
    )
    text = _GRAPH.format(
        out_streams=outs,
        width=w,
        height=h,
        lo=value_range[0],
        hi=value_range[1],
        model=str(Path(model_path).resolve()),
        split_outs=split,
        ranges=ranges,
        float_nodes=floats,
    )
    config = text_format.Parse(text, calculator_pb2.CalculatorGraphConfig())
    graph = mp.CalculatorGraph(graph_config=config)
    results: dict[str, np.ndarray] = {}
    for name in ["input_floats"] + [f"out{i}" for i in range(n_outputs)]:
        graph.observe_output_stream(
            name, lambda stream, packet: results.__setitem__(stream, np.array(mp.packet_getter.get_float_list(packet)))
        )
    graph.start_run()
    packet = mp.packet_creator.create_image_frame(
        image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image_rgb, dtype=np.uint8)
    )
    graph.add_packet_to_input_stream("image", packet.at(0))
    graph.close()
    inp = results["input_floats"].astype(np.float32).reshape(1, h, w, 3)
    return inp, [results[f"out{i}"].astype(np.float32) for i in range(n_outputs)]
