import Foundation

/// Which files of a model folder hold the weights, in the order Hugging Face looks for them.
struct WeightFiles {
    let format: Checkpoint.Format
    let shards: [URL]
    /// tensor name → shard file name, when the weights come with an index.
    let weightMap: [String: String]?
    let index: URL?

    init(folder: URL) throws {
        let fileManager = FileManager.default
        func present(_ name: String) -> URL? {
            let url = folder.appendingPathComponent(name)
            return fileManager.fileExists(atPath: url.path) ? url : nil
        }
        if let single = present("model.safetensors") {
            self.init(format: .safetensors, shards: [single], weightMap: nil, index: nil)
        } else if let index = present("model.safetensors.index.json") {
            try self.init(format: .safetensors, index: index, folder: folder)
        } else if let single = present("pytorch_model.bin") {
            self.init(format: .pytorch, shards: [single], weightMap: nil, index: nil)
        } else if let index = present("pytorch_model.bin.index.json") {
            try self.init(format: .pytorch, index: index, folder: folder)
        } else {
            throw WeightsError.noWeights(folder: folder.path)
        }
    }

    private init(format: Checkpoint.Format, shards: [URL], weightMap: [String: String]?, index: URL?) {
        self.format = format
        self.shards = shards
        self.weightMap = weightMap
        self.index = index
    }

    private init(format: Checkpoint.Format, index: URL, folder: URL) throws {
        struct Index: Decodable {
            let weightMap: [String: String]
            enum CodingKeys: String, CodingKey { case weightMap = "weight_map" }
        }
        let weightMap: [String: String]
        let data = try WeightsError.contentsOfRegularFile(index)
        do {
            weightMap = try JSONDecoder().decode(Index.self, from: data).weightMap
        } catch {
            throw WeightsError.invalidIndex(file: index.lastPathComponent, detail: "expected a JSON object with a weight_map (\(WeightsError.describe(error)))")
        }
        var shards: [URL] = []
        for shard in Set(weightMap.values).sorted() {
            guard !shard.contains("/"), shard != "..", shard != "." else {
                throw WeightsError.invalidIndex(file: index.lastPathComponent, detail: "shard \(shard) is not a file name in the model folder")
            }
            let url = folder.appendingPathComponent(shard)
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw WeightsError.missingShard(index: index.lastPathComponent, shard: shard)
            }
            shards.append(url)
        }
        self.init(format: format, shards: shards, weightMap: weightMap, index: index)
    }
}
